"""Scheduler preload for the remote tests: records which worker ran each task.

Used as ``dask scheduler --preload tests/task_recorder.py``; tests read the
records back with ``client.get_events("compute-tests")``.
"""

from __future__ import annotations

from distributed.diagnostics.plugin import SchedulerPlugin

TOPIC = "compute-tests"


class TaskWorkerRecorder(SchedulerPlugin):
    name = "task-worker-recorder"

    async def start(self, scheduler) -> None:
        self.scheduler = scheduler

    def transition(self, key, start, finish, *args, **kwargs) -> None:
        if finish == "memory" and kwargs.get("worker"):
            self.scheduler.log_event(
                TOPIC, {"key": str(key), "worker": kwargs["worker"]}
            )


def dask_setup(scheduler) -> None:
    scheduler.add_plugin(TaskWorkerRecorder())
