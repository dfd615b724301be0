"""The Dask peer of the benchmark: a Dask `SSHCluster` on the benchmark's sshd nodes, driven by
bench/dask-peer.ts over stdin and stdout, one JSON object a line each way.

Run it with the system's Python (`/usr/bin/python3 bench/dask-peer.py`), where Debian's
`python3-distributed` and `python3-asyncssh` live. Its first line says what it found:
`{"ready": true, "dask": "2022.12.1", "python": "3.11.2", "asyncssh": "2.10.1"}`, or
`{"ready": false, "missing": "..."}` when Dask cannot be imported (then it exits).

Then every request is answered by one line, `{"ok": true, ...}` or `{"ok": false, "error": "..."}`:
- `{"op": "start", "hosts": [...], "port": P, "username": U, "clientKey": K, "knownHosts": F,
  "threads": T}`: `SSHCluster` whose first host runs the scheduler and every other host one worker
  (a nanny and its worker process, `T` threads), and a `Client`; answers `ms`, from the call until
  every worker has registered with the scheduler.
- `{"op": "batch", "jobs": N}`: `client.map(echo, range(N))` and `client.gather`; answers `ms`.
- `{"op": "oneByOne", "jobs": N}`: `client.submit(echo, i)` for each i, then `client.gather`.
- `{"op": "sleep", "lengthsMs": [...]}`: one job per length, sleeping that long (`client.map`,
  then `gather`); answers `ms` and per job `stamps` ([start, end] in ms since the epoch).
- `{"op": "latency", "runs": N}`: N single jobs one after another, each `client.submit(echo, i)`
  then `.result()`; answers `ms`, the time of each.
- `{"op": "settle"}`: waits until the scheduler holds no task (the last run's released futures
  forgotten by the scheduler and the workers), so that the next run does not pay for them.
- `{"op": "stop"}`: closes the client and the cluster.
Jobs are submitted with `pure=False`, so that equal arguments still make separate jobs, as in
Malocher (Dask would otherwise run one task for all `sleep(100)` calls).
"""

import json
import logging
import os
import sys
import time

# Everything Dask prints goes to stderr; stdout carries only our answers.
answers = sys.stdout
sys.stdout = sys.stderr

try:
    import asyncssh
    import dask
    import distributed
    from distributed import Client, SSHCluster
except ImportError as error:  # the benchmark says so and skips the peer
    answers.write(json.dumps({"ready": False, "missing": str(error)}) + "\n")
    answers.flush()
    sys.exit(0)


def echo(value):
    """The no-op job: returns its argument (Malocher's bench-jobs.ts `echo`)."""
    return value


def sleep_stamped(ms):
    """Sleeps `ms` milliseconds; says when it ran (Malocher's `sleepStamped`)."""
    started = time.time() * 1000
    time.sleep(ms / 1000)
    return [started, time.time() * 1000]


def now_ms():
    return time.perf_counter() * 1000


class Peer:
    def __init__(self):
        self.cluster = None
        self.client = None

    def start(self, request):
        if self.cluster is not None:
            raise RuntimeError("a cluster is already started")
        hosts = request["hosts"]
        connect = {
            "port": request["port"],
            "username": request["username"],
            "client_keys": [request["clientKey"]],
            "known_hosts": request["knownHosts"],
        }
        started = now_ms()
        try:
            self.cluster = SSHCluster(
                hosts,
                connect_options=connect,
                worker_options={"nthreads": request["threads"]},
                # Port 0: a free port, so that a cluster still closing never collides with the
                # next; the first host's address, so that workers reach it there (by default the
                # scheduler announces this machine's outward address).
                scheduler_options={"port": 0, "host": hosts[0], "dashboard_address": None},
                remote_python="/usr/bin/python3",
            )
            self.client = Client(self.cluster)
            self.client.wait_for_workers(len(hosts) - 1)
        except BaseException:
            self.stop({})
            raise
        return {"ms": now_ms() - started}

    def stop(self, _request):
        started = now_ms()
        if self.client is not None:
            self.client.close()
        if self.cluster is not None:
            self.cluster.close()
        self.client = None
        self.cluster = None
        return {"ms": now_ms() - started}

    def batch(self, request):
        return self.time_echoes(request["jobs"], lambda jobs: self.client.map(echo, range(jobs), pure=False))

    def one_by_one(self, request):
        return self.time_echoes(request["jobs"], lambda jobs: [self.client.submit(echo, i, pure=False) for i in range(jobs)])

    def time_echoes(self, jobs, submit):
        """Submits `jobs` echoes with `submit` and gathers them: the time from the first submit to the last value."""
        started = now_ms()
        values = self.client.gather(submit(jobs))
        ms = now_ms() - started
        check_echoes(values, jobs)
        return {"ms": ms}

    def settle(self, _request):
        started = now_ms()
        while self.client.run_on_scheduler(scheduler_task_count) > 0:
            if now_ms() - started > 10_000:
                raise RuntimeError("the scheduler still held tasks 10 s after the run")
            time.sleep(0.01)
        return {"ms": now_ms() - started}

    def sleep(self, request):
        lengths = request["lengthsMs"]
        started = now_ms()
        futures = self.client.map(sleep_stamped, lengths, pure=False)
        stamps = self.client.gather(futures)
        return {"ms": now_ms() - started, "stamps": stamps}

    def latency(self, request):
        times = []
        for i in range(request["runs"]):
            started = now_ms()
            value = self.client.submit(echo, i, pure=False).result()
            times.append(now_ms() - started)
            if value != i:
                raise RuntimeError(f"job {i} returned {value!r}")
        return {"ms": times}


def scheduler_task_count(dask_scheduler):
    return len(dask_scheduler.tasks)


def check_echoes(values, jobs):
    if list(values) != list(range(jobs)):
        raise RuntimeError(f"{jobs} jobs returned wrong values")


def main():
    logging.getLogger("distributed").setLevel(logging.ERROR)
    logging.getLogger("asyncssh").setLevel(logging.ERROR)
    peer = Peer()
    ops = {"start": peer.start, "stop": peer.stop, "batch": peer.batch, "oneByOne": peer.one_by_one, "sleep": peer.sleep, "latency": peer.latency, "settle": peer.settle}
    python = ".".join(str(part) for part in sys.version_info[:3])
    answers.write(json.dumps({"ready": True, "dask": dask.__version__, "distributed": distributed.__version__, "asyncssh": asyncssh.__version__, "python": python, "pid": os.getpid()}) + "\n")
    answers.flush()
    try:
        for line in sys.stdin:
            if not line.strip():
                continue
            request = json.loads(line)
            try:
                answer = {"ok": True, **ops[request["op"]](request)}
            except Exception as error:  # answered, the driver decides
                answer = {"ok": False, "error": f"{type(error).__name__}: {error}"}
            answers.write(json.dumps(answer) + "\n")
            answers.flush()
    finally:
        peer.stop({})


if __name__ == "__main__":
    main()
