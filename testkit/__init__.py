"""What the tests and the benchmarks share, and the wheel does not ship (it is not in setuptools' packages).

- ``testkit.telegram``: a model of the Telegram Bot API server and the people using it; in-process
  (``RecordingSession``, ``InProcessClient``) or over HTTP (``BotApiEmulator``);
- ``testkit.settings``: settings for a bot under test, never read from the developer's environment;
- ``testkit.process``: the real ``tropa run`` as a child process;
- ``testkit.load``: the load driver (webhook replicas behind a balancer, a crowd of people).

Imports run one way: tests/ and bench/ import testkit; testkit imports the project, never tests/.
"""
