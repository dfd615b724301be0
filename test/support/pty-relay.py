"""Runs a command on a new pseudo-terminal (its stdin, stdout, stderr and controlling terminal)
of the given size, relays what it writes to this process's stdout and this process's stdin to it,
and exits with its exit status. Used by test/support/pty.ts: Node has no pty module of its own.

Usage: python3 pty-relay.py COLUMNS ROWS COMMAND [ARG...]
"""
import fcntl
import os
import pty
import select
import struct
import sys
import termios

columns, rows, argv = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3:]
pid, master = pty.fork()
if pid == 0:
    # The child: fd 0 is the terminal's slave side; size it before the command looks.
    fcntl.ioctl(0, termios.TIOCSWINSZ, struct.pack("HHHH", rows, columns, 0, 0))
    os.execvp(argv[0], argv)

stdin_open = True
while True:
    watched = [master] + ([0] if stdin_open else [])
    ready, _, _ = select.select(watched, [], [])
    if master in ready:
        try:
            data = os.read(master, 65536)
        except OSError:  # EIO: the command and everything holding the terminal are gone
            data = b""
        if not data:
            break
        os.write(1, data)
    if 0 in ready:
        data = os.read(0, 65536)
        if data:
            os.write(master, data)
        else:
            stdin_open = False

_, status = os.waitpid(pid, 0)
sys.exit(os.waitstatus_to_exitcode(status) if os.WIFEXITED(status) else 128 + os.WTERMSIG(status))
