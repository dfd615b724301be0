"""Runs a command on a new pseudo-terminal (its stdin, stdout, stderr and controlling terminal)
of the given size, relays what it writes to this process's stdout and this process's stdin to it,
resizes the terminal on each "COLUMNS ROWS" line read from fd 3 (the command gets SIGWINCH), and
exits with its exit status. Used by test/support/pty.ts: Node has no pty module of its own.

Usage: python3 pty-relay.py COLUMNS ROWS COMMAND [ARG...]
"""
import fcntl
import os
import pty
import select
import struct
import sys
import termios

def set_size(fd, columns, rows):
    fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", rows, columns, 0, 0))


columns, rows, argv = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3:]
pid, master = pty.fork()
if pid == 0:
    # The child: fd 0 is the terminal's slave side; size it before the command looks.
    set_size(0, columns, rows)
    os.closerange(3, 4)  # the size channel is the relay's
    os.execvp(argv[0], argv)

stdin_open = True
control_open = True
control_text = b""
while True:
    watched = [master] + ([0] if stdin_open else []) + ([3] if control_open else [])
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
    if 3 in ready:
        data = os.read(3, 4096)
        if not data:
            control_open = False
        control_text += data
        while b"\n" in control_text:
            line, control_text = control_text.split(b"\n", 1)
            new_columns, new_rows = (int(word) for word in line.split())
            set_size(master, new_columns, new_rows)

_, status = os.waitpid(pid, 0)
sys.exit(os.waitstatus_to_exitcode(status) if os.WIFEXITED(status) else 128 + os.WTERMSIG(status))
