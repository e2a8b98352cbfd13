#!/usr/bin/python3
"""brain-sets.py — the real-data retrieval benchmark's query and database sets.

Source: the Colin27 single-subject T1 MRI (ch2, 1 mm, MNI space) and the
AAL atlas on the same grid, both shipped by Debian's mricron-data package
(/usr/share/mricron/templates).  Two tasks, each a query set from the left
hemisphere and a database from the right, so no side is shared and a
query's mirror image is never in the database as a near-duplicate:

  structure  24 mm cubes centred on voxels of an AAL structure, label = the
             structure without its side (Hippocampus, Putamen, ...); the
             largest paired structures, PER_SIDE cubes per side each;
  level      axial slabs of one hemisphere, 8 mm thick, label = the 10 mm
             band of their centre's height (z), PER_SIDE slabs per side.

Each item is a NIfTI-1 volume (float32, 1 mm, the scanner's intensities)
written with nibabel; the manifests list path,modality,label with
modality mri.  Deterministic: the same package gives the same files.

  brain-sets.py OUTDIR [--templates DIR]
"""
import argparse
import gzip
import os
import re
import sys

import nibabel as nib
import numpy as np

PER_SIDE = 8
STRUCTURES = 24          # paired AAL structures kept, by size
CUBE = 24                # mm
SLAB = 8                 # mm
BAND = 10                # mm
SEED = 20261203


def fail(message):
    sys.exit("brain-sets.py: " + message)


def load(templates, name):
    path = os.path.join(templates, name)
    if not os.path.exists(path):
        fail(f"{path} is missing: install Debian's mricron-data package")
    image = nib.load(path)
    return image, np.asarray(image.dataobj)


def aal_names(templates):
    path = os.path.join(templates, "aal.nii.txt")
    names = {}
    with open(path) as f:
        for line in f:
            parts = line.split()
            if len(parts) >= 2:
                names[int(parts[0])] = parts[1]
    return names


def write(volume, out_dir, name):
    affine = np.diag([1.0, 1.0, 1.0, 1.0])
    image = nib.Nifti1Image(volume.astype(np.float32), affine)
    image.header.set_xyzt_units("mm")
    # gzip without a time stamp, so the same package gives the same bytes
    path = os.path.join(out_dir, name)
    with open(path + ".tmp", "wb") as f:
        f.write(gzip.compress(image.to_bytes(), mtime=0))
    os.replace(path + ".tmp", path)


def mirror_x(i, nx):
    return nx - 1 - i


def structure_task(t1, labels, names, out, rng):
    nx = t1.shape[0]
    half = CUBE // 2
    pairs = {}
    for value, name in names.items():
        m = re.match(r"(.+)_([LR])$", name)
        if m:
            pairs.setdefault(m.group(1), {})[m.group(2)] = value
    sizes = []
    for base, sides in pairs.items():
        if "L" in sides and "R" in sides:
            n = min(int((labels == sides["L"]).sum()), int((labels == sides["R"]).sum()))
            sizes.append((n, base, sides))
    sizes.sort(reverse=True)
    rows = {"query": [], "database": []}
    os.makedirs(os.path.join(out, "structure"), exist_ok=True)
    for _, base, sides in sizes[:STRUCTURES]:
        for side, role in (("L", "query"), ("R", "database")):
            voxels = np.argwhere(labels == sides[side])
            # centres far enough from the edges for a whole cube
            ok = np.all((voxels >= half) & (voxels < np.array(t1.shape) - half), axis=1)
            voxels = voxels[ok]
            picks = voxels[rng.choice(len(voxels), size=PER_SIDE, replace=False)]
            for k, (i, j, l) in enumerate(picks):
                cube = t1[i - half:i + half, j - half:j + half, l - half:l + half]
                if side == "R":
                    cube = cube[::-1, :, :]  # seen as the left side is
                name = f"structure/{base}_{side}_{k}.nii.gz"
                write(cube, out, name)
                rows[role].append((name, base))
    return rows


def level_task(t1, labels, out):
    nx, ny, nz = t1.shape
    brain = np.argwhere(labels > 0)
    z0, z1 = int(brain[:, 2].min()), int(brain[:, 2].max())
    mid = nx // 2
    rows = {"query": [], "database": []}
    os.makedirs(os.path.join(out, "level"), exist_ok=True)
    bands = range(z0 + SLAB // 2, z1 - SLAB // 2, BAND)
    for b, start in enumerate(bands):
        for k in range(PER_SIDE):
            centre = start + k  # 1 mm apart inside the band
            lo = centre - SLAB // 2
            if lo + SLAB > nz or centre >= start + BAND:
                continue
            for side, role in (("L", "query"), ("R", "database")):
                slab = t1[:mid, :, lo:lo + SLAB] if side == "L" else t1[mid + 1:, :, lo:lo + SLAB][::-1]
                label = f"band{b:02d}"
                name = f"level/{label}_{side}_{k}.nii.gz"
                write(slab, out, name)
                rows[role].append((name, label))
    return rows


def write_manifest(out, task, role, rows):
    path = os.path.join(out, f"{task}-{role}.csv")
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        f.write("path,modality,label\n")
        for name, label in rows:
            f.write(f"{name},mri,{label}\n")
    os.replace(tmp, path)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out")
    parser.add_argument("--templates", default="/usr/share/mricron/templates")
    args = parser.parse_args()
    os.makedirs(args.out, exist_ok=True)
    t1_image, t1 = load(args.templates, "ch2.nii.gz")
    aal_image, labels = load(args.templates, "aal.nii.gz")
    if t1.shape != labels.shape or not np.allclose(t1_image.affine, aal_image.affine):
        fail("ch2.nii.gz and aal.nii.gz are not on the same grid")
    if t1_image.affine[0, 0] <= 0:
        fail("expected x to grow to the right (RAS) in ch2.nii.gz")
    t1 = t1.astype(np.float32)
    rng = np.random.default_rng(SEED)
    names = aal_names(args.templates)
    tasks = {"structure": structure_task(t1, labels, names, args.out, rng),
             "level": level_task(t1, labels, args.out)}
    for task, rows in tasks.items():
        for role in ("query", "database"):
            write_manifest(args.out, task, role, rows[role])
        labels_used = sorted({label for _, label in rows["query"]})
        print(f"{task}: {len(rows['query'])} queries (left), {len(rows['database'])} database "
              f"items (right), {len(labels_used)} labels")


if __name__ == "__main__":
    main()
