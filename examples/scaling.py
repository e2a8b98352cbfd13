#!/usr/bin/python3
"""scaling.py — the scaling study as a tool: train a grid of runs (preset ×
training-set size × steps), evaluate each on one fixed query/database split,
and draw mAP@10 against training compute, with the raw-pixel and random-init
floors as lines.

  examples/scaling.py [--pipeline BASE.ini] [--presets micro,tiny]
                      [--sizes 4,8,16] [--steps 50,150,600] [--work DIR]

Each point is a whole run (its learning-rate schedule spans its steps).
The training sets are `m3ret synth --per-class SIZE --seed 1`; the split
evaluated is `m3ret synth --per-class 8 --seed 0`'s query and database, the
demo's, which no training set contains.  Compute is the CPU time (user +
system) of `m3ret train`, measured here, so curves from different machines
are not comparable; the table also gives images seen (steps × batch).
Writes WORK/scaling.csv and WORK/scaling.png; m3ret from $M3RET, else PATH.
"""
import argparse
import configparser
import csv
import json
import os
import resource
import shutil
import subprocess
import sys

import matplotlib

matplotlib.use('Agg')  # files only, no display
import matplotlib.pyplot as plt  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
M3RET = os.environ.get('M3RET', shutil.which('m3ret') or 'm3ret')


def fail(message):
    print('scaling.py: ' + message, file=sys.stderr)
    sys.exit(1)


def int_list(text):
    try:
        values = [int(v) for v in text.split(',')]
    except ValueError:
        raise argparse.ArgumentTypeError('%r is not a comma-separated list of integers' % text)
    if not values or min(values) < 1:
        raise argparse.ArgumentTypeError('%r: every value must be at least 1' % text)
    return values


def m3ret(*args):
    """Runs m3ret; returns the CPU seconds it took (it and its children)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    done = subprocess.run([M3RET] + list(args), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          universal_newlines=True)
    if done.returncode != 0:
        fail('m3ret %s failed (exit %d): %s' % (args[0], done.returncode, done.stderr.strip()))
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def synth(folder, per_class, seed):
    if not os.path.isfile(os.path.join(folder, 'manifest.csv')):
        m3ret('synth', '--out', folder, '--per-class', str(per_class), '--seed', str(seed))


def write_pipeline(base, path, preset, steps, train_csv):
    config = configparser.ConfigParser(interpolation=None)
    config.optionxform = str  # keys as written
    if not config.read(base):
        fail('cannot read the pipeline %s' % base)
    for group in ('encoder', 'train', 'data'):
        if not config.has_section(group):
            config.add_section(group)
    config.set('encoder', 'preset', preset)
    config.set('train', 'steps', str(steps))
    config.set('train', 'checkpoint_every', str(steps))
    warmup = config.getint('train', 'warmup', fallback=0)
    config.set('train', 'warmup', str(min(warmup, steps)))
    config.set('data', 'train', os.path.abspath(train_csv))
    with open(path, 'w') as f:
        config.write(f)
    return config.getint('train', 'batch', fallback=32)


def overall_map10(block):
    return block['overall']['map']['10']


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--pipeline', default=os.path.join(HERE, 'mae-micro.ini'),
                        help='base pipeline (default examples/mae-micro.ini)')
    parser.add_argument('--presets', default='micro', help='comma-separated presets (default micro)')
    parser.add_argument('--sizes', type=int_list, default=[4, 8, 16],
                        help='training samples per label and modality (default 4,8,16)')
    parser.add_argument('--steps', type=int_list, default=[50, 150, 600],
                        help='run lengths in steps (default 50,150,600)')
    parser.add_argument('--work', default='scaling-run', help='working folder (default scaling-run)')
    args = parser.parse_args()
    presets = [p for p in args.presets.split(',') if p]
    if not presets:
        fail('--presets names no preset')
    os.makedirs(args.work, exist_ok=True)

    evaluation = os.path.join(args.work, 'eval-set')
    synth(evaluation, 8, 0)
    query = os.path.join(evaluation, 'query.csv')
    database = os.path.join(evaluation, 'database.csv')

    rows = []
    floors = {}  # preset -> (raw, random) mAP@10 on the split
    for size in args.sizes:
        data = os.path.join(args.work, 'train-%d' % size)
        synth(data, size, 1)
        for preset in presets:
            for steps in args.steps:
                name = '%s-n%d-s%d' % (preset, size, steps)
                folder = os.path.join(args.work, name)
                os.makedirs(folder, exist_ok=True)
                pipeline = os.path.join(folder, 'pipeline.ini')
                batch = write_pipeline(args.pipeline, pipeline, preset, steps,
                                       os.path.join(data, 'manifest.csv'))
                cpu = m3ret('train', pipeline, '--out', os.path.join(folder, 'run'), '--quiet')
                report = os.path.join(folder, 'eval.json')
                m3ret('eval', pipeline, '--checkpoint', os.path.join(folder, 'run',
                                                                     'checkpoint.safetensors'),
                      '--query', query, '--database', database, '--json', report)
                with open(report) as f:
                    result = json.load(f)
                floors.setdefault(preset, (overall_map10(result['baselines']['raw']['metrics']),
                                           overall_map10(result['baselines']['random']['metrics'])))
                rows.append({'preset': preset, 'per_class': size, 'steps': steps,
                             'images_seen': steps * batch, 'train_cpu_s': round(cpu, 2),
                             'map10': overall_map10(result),
                             'raw_map10': floors[preset][0], 'random_map10': floors[preset][1]})
                print('%-22s cpu %7.1f s  mAP@10 %.3f  (raw %.3f, random %.3f)'
                      % (name, cpu, rows[-1]['map10'], floors[preset][0], floors[preset][1]))

    table = os.path.join(args.work, 'scaling.csv')
    with open(table + '.tmp', 'w', newline='') as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0].keys()))
        writer.writeheader()
        writer.writerows(rows)
    os.replace(table + '.tmp', table)

    figure, axes = plt.subplots(figsize=(7, 4.5))
    raw = rows[0]['raw_map10']
    axes.axhline(raw, color='black', linestyle='--', label='raw pixels (%.3f)' % raw)
    for preset in presets:
        axes.axhline(floors[preset][1], linestyle=':', color='grey',
                     label='random init, %s (%.3f)' % (preset, floors[preset][1]))
        for size in args.sizes:
            points = sorted((r['train_cpu_s'], r['map10']) for r in rows
                            if r['preset'] == preset and r['per_class'] == size)
            axes.plot([p[0] for p in points], [p[1] for p in points], marker='o',
                      label='%s, %d per class' % (preset, size))
    axes.set_xscale('log')
    axes.set_xlabel('training CPU time (s, this machine)')
    axes.set_ylabel('mAP@10 (synthetic query/database split)')
    axes.set_title('m3ret scaling: mAP@10 against training compute')
    axes.grid(True, alpha=0.3)
    axes.legend(fontsize='small')
    figure.tight_layout()
    picture = os.path.join(args.work, 'scaling.png')
    figure.savefig(picture + '.tmp.png')
    os.replace(picture + '.tmp.png', picture)
    print('wrote %s and %s' % (table, picture))


if __name__ == '__main__':
    main()
