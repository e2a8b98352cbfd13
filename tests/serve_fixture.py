"""serve_fixture.py — what the `m3ret serve` tests share: a small synthetic
archive embedded and indexed with the random-init encoder (no training, so
it takes seconds), and a server started on a free loopback port."""
import json
import os
import select
import signal
import subprocess
import tempfile
import time
import urllib.error
import urllib.request

M3RET = os.environ.get('M3RET_BIN', '')
BUILDDIR = os.environ.get('M3RET_TEST_BUILDDIR', '')
SRCDIR = os.environ.get('M3RET_TEST_SRCDIR', '')

PIPELINE = """[pipeline]
backend=cpu
threads=2
seed=0
[input]
size=32
depth=8
tubelet=2,8,8
[encoder]
preset=micro
pool=cls
[objective]
plugin=mae
[retriever]
plugin=flat
whiten=center
"""


def run(*args, check=True):
    """Runs m3ret with ARGS; returns its stdout."""
    done = subprocess.run([M3RET, *args], capture_output=True, text=True)
    if check and done.returncode != 0:
        raise AssertionError('m3ret %s: exit %d: %s' % (' '.join(args), done.returncode,
                                                        done.stderr))
    return done.stdout


class Archive:
    """DIR/data (m3ret synth, 2 per class), DIR/p.ini, DIR/db.npy + db.csv, DIR/db.index."""

    def __init__(self, extra_pipeline=''):
        self.dir = tempfile.mkdtemp(prefix='m3ret-serve-test-')
        self.pipeline = os.path.join(self.dir, 'p.ini')
        with open(self.pipeline, 'w') as f:
            f.write(PIPELINE + extra_pipeline)
        self.data = os.path.join(self.dir, 'data')
        run('synth', '--out', self.data, '--per-class', '2', '--seed', '0')
        self.npy = os.path.join(self.dir, 'db.npy')
        run('embed', self.pipeline, '--checkpoint', 'random', '--manifest',
            os.path.join(self.data, 'database.csv'), '--out', self.npy)
        self.index = os.path.join(self.dir, 'db.index')
        run('index', self.pipeline, '--embeddings', self.npy, '--out', self.index)
        # the sidecar's rows, in index order: item id i is row i
        with open(os.path.join(self.dir, 'db.csv')) as f:
            rows = [line.rstrip('\n').split(',') for line in f][1:]
        self.items = [{'path': r[0], 'modality': r[1], 'label': r[2]} for r in rows]
        with open(os.path.join(self.data, 'query.csv')) as f:
            rows = [line.rstrip('\n').split(',') for line in f][1:]
        self.queries = [{'path': os.path.join(self.data, r[0]), 'modality': r[1], 'label': r[2]}
                        for r in rows]

    def query_of(self, modality):
        return next(q['path'] for q in self.queries if q['modality'] == modality)


class Server:
    """`m3ret serve` on 127.0.0.1, port chosen by the system."""

    def __init__(self, archive, *args, pipeline=None, index=None, listen='127.0.0.1:0',
                 token=None, scheme='http'):
        self.log = tempfile.NamedTemporaryFile(prefix='m3ret-serve-', suffix='.log',
                                               delete=False)
        # M3RET_SERVE_PREFIX: a command to run the server under (valgrind, say)
        prefix = os.environ.get('M3RET_SERVE_PREFIX', '').split()
        cmd = [*prefix, M3RET, 'serve', pipeline or archive.pipeline, '--checkpoint', 'random',
               '--index', index or archive.index, '--listen', listen, *args]
        self.token = token
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=self.log)
        self.url = None
        deadline = time.time() + (300 if prefix else 30)
        line = b''
        while time.time() < deadline:
            ready, _, _ = select.select([self.proc.stdout], [], [], 0.2)
            if ready:
                line = self.proc.stdout.readline()
                if b'listening on ' in line:
                    self.url = line.decode().split('listening on ')[1].strip()
                    break
                if not line:
                    break
            if self.proc.poll() is not None:
                break
        if self.url is None:
            self.proc.kill()
            self.proc.wait()
            raise AssertionError('the server did not start: ' + self.stderr())
        self.port = int(self.url.rstrip('/').rsplit(':', 1)[1])
        self.base = '%s://127.0.0.1:%d' % (scheme, self.port)
        if scheme == 'http':
            self.wait_healthy()

    def wait_healthy(self):
        deadline = time.time() + 20
        while time.time() < deadline:
            try:
                if self.get('/api/health')[0] == 200:
                    return
            except OSError:
                pass
            time.sleep(0.05)
        raise AssertionError('no answer on /api/health: ' + self.stderr())

    def stderr(self):
        with open(self.log.name, errors='replace') as f:
            return f.read()

    def request(self, method, path, body=None, headers=None, timeout=30, context=None):
        headers = dict(headers or {})
        if self.token and 'Authorization' not in headers:
            headers['Authorization'] = 'Bearer ' + self.token
        req = urllib.request.Request(self.base + path, data=body, method=method, headers=headers)
        try:
            with urllib.request.urlopen(req, timeout=timeout, context=context) as r:
                return r.status, r.headers, r.read()
        except urllib.error.HTTPError as e:
            return e.code, e.headers, e.read()

    def get(self, path, **kw):
        return self.request('GET', path, **kw)

    def post_file(self, path, file, fields=None, filename=None, **kw):
        """POSTs FILE's bytes as the raw body, FIELDS in the query string."""
        from urllib.parse import urlencode
        with open(file, 'rb') as f:
            data = f.read()
        fields = dict(fields or {})
        fields['filename'] = filename or os.path.basename(file)
        return self.request('POST', path + '?' + urlencode(fields), body=data,
                            headers={'Content-Type': 'application/octet-stream'}, **kw)

    def post_form(self, path, file, fields=None):
        """POSTs FILE and FIELDS as multipart/form-data, as the web page does."""
        boundary = 'm3retboundary%d' % os.getpid()
        parts = []
        for k, v in (fields or {}).items():
            parts.append(('--%s\r\nContent-Disposition: form-data; name="%s"\r\n\r\n%s\r\n'
                          % (boundary, k, v)).encode())
        with open(file, 'rb') as f:
            data = f.read()
        parts.append(('--%s\r\nContent-Disposition: form-data; name="file"; filename="%s"\r\n'
                      'Content-Type: application/octet-stream\r\n\r\n'
                      % (boundary, os.path.basename(file))).encode() + data + b'\r\n')
        parts.append(('--%s--\r\n' % boundary).encode())
        return self.request('POST', path, body=b''.join(parts),
                            headers={'Content-Type': 'multipart/form-data; boundary=' + boundary})

    def json(self, answer):
        status, _, body = answer
        try:
            return status, json.loads(body)
        except ValueError:
            raise AssertionError('not JSON (status %d): %r' % (status, body[:200]))

    def rss_kib(self):
        with open('/proc/%d/status' % self.proc.pid) as f:
            for line in f:
                if line.startswith('VmRSS:'):
                    return int(line.split()[1])
        return 0

    def under_asan(self):
        """Whether the server runs with AddressSanitizer, whose quarantine
        keeps freed memory resident (its LeakSanitizer checks at exit)."""
        with open('/proc/%d/maps' % self.proc.pid) as f:
            return 'libasan' in f.read()

    def stop(self, sig=signal.SIGTERM, timeout=30):
        """Sends SIG; returns the exit status."""
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        try:
            return self.proc.wait(timeout=timeout)
        finally:
            self.proc.stdout.close()
            os.unlink(self.log.name)


def chromium_paths():
    """(chromium, chromedriver) where both are installed, else None."""
    import shutil
    browser = shutil.which('chromium') or shutil.which('chromium-browser')
    driver = shutil.which('chromedriver') or (
        '/usr/bin/chromedriver' if os.path.exists('/usr/bin/chromedriver') else None)
    if browser and driver:
        return browser, driver
    return None
