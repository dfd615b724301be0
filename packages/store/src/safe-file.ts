/**
 * Every file Malocher opens in the shared directory is opened here. Another account that can
 * write there (`--allow-shared-dir-writers`) may plant a symlink, a FIFO, a device or a huge
 * sparse file at any path we use; so:
 *
 * - nothing is opened through a symlink (`O_NOFOLLOW`), for reading or writing;
 * - a file we create is created by us (`O_EXCL`) with mode 0600, a directory 0700, whatever the umask;
 * - a file we read is opened non-blocking (a FIFO cannot hang us), must be a regular file, and
 *   its size is checked before it is read;
 * - a log we append to must be a regular file of ours with one link, else it is replaced.
 */
import { chmodSync, closeSync, constants, fstatSync, ftruncateSync, lstatSync, mkdirSync, openSync, readSync, unlinkSync, writeSync, type Stats } from "node:fs";
import { fstat as fstatCallback, open as openCallback, read as readCallback } from "node:fs";
import { mkdir, chmod, open, rename, unlink, type FileHandle } from "node:fs/promises";
import { MAX_SPEC_BYTES, MalocherError, randomHex } from "@malocher/protocol";

/** Mode of every file Malocher creates in the shared directory. */
export const PRIVATE_FILE_MODE = 0o600;
/** Mode of every directory Malocher creates in the shared directory. */
export const PRIVATE_DIR_MODE = 0o700;

const { O_RDONLY, O_WRONLY, O_RDWR, O_CREAT, O_EXCL, O_APPEND, O_NOFOLLOW, O_NONBLOCK } = constants;
const CREATE_NEW = O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW;
const READ = O_RDONLY | O_NOFOLLOW | O_NONBLOCK;
const APPEND = O_RDWR | O_APPEND | O_CREAT | O_NOFOLLOW | O_NONBLOCK;

/** What a reader accepts. */
export interface ReadLimits {
  /** Refuse a file larger than this many bytes (before reading any of it); a whole read, at most {@link MAX_READ_BYTES}. */
  maxBytes?: number;
}

/**
 * The most a read of a whole file reads, whatever its limits say: a spec's own limit
 * (`MAX_SPEC_BYTES`, 1 GiB), and so the most a result or a log may hold (see `publishResult`,
 * `maxLogBytes`): nothing Malocher writes is larger. A sparse file of several GiB planted at a
 * result or log path would otherwise be read whole (and, past 2 GiB, abort the process in Node's
 * `read`).
 */
export const MAX_READ_BYTES = MAX_SPEC_BYTES;

/** The error for a path that is not what Malocher put there: `SHARED_FILE_UNSAFE`, naming what it found. */
function unsafe(path: string, what: string): MalocherError {
  return new MalocherError("SHARED_FILE_UNSAFE", `${path} ${what}; Malocher does not open it (was it planted by another account?).`);
}

/** ELOOP from O_NOFOLLOW means the last component is a symlink. */
function translateOpenError(path: string, error: unknown): unknown {
  if ((error as NodeJS.ErrnoException).code === "ELOOP") return unsafe(path, "is a symlink");
  return error;
}

function describeType(stats: Stats): string {
  if (stats.isFIFO()) return "a FIFO";
  if (stats.isSocket()) return "a socket";
  if (stats.isCharacterDevice() || stats.isBlockDevice()) return "a device";
  if (stats.isDirectory()) return "a directory";
  return "not a regular file";
}

/** Whether a file (its `stats`) is this account's: not planted by another (always, without POSIX ids). */
export function isOwnFile(stats: Stats): boolean {
  return process.getuid === undefined || stats.uid === process.getuid();
}

/** Throws unless `stats` is a regular file within `limits`. */
export function checkRegularFile(path: string, stats: Stats, limits: ReadLimits = {}): void {
  if (!stats.isFile()) throw unsafe(path, `is ${describeType(stats)}, not a regular file`);
  if (limits.maxBytes !== undefined && stats.size > limits.maxBytes) {
    throw unsafe(path, `holds ${stats.size} bytes, more than the ${limits.maxBytes} it may`);
  }
}

/** `limits` for a read of a whole file: never past {@link MAX_READ_BYTES}. */
function wholeRead(limits: ReadLimits): ReadLimits {
  return { maxBytes: Math.min(limits.maxBytes ?? MAX_READ_BYTES, MAX_READ_BYTES) };
}

/** Reads a whole regular file (see the module comment); `SHARED_FILE_UNSAFE` for anything else. */
export async function readRegularFile(path: string, limits: ReadLimits = {}): Promise<Buffer> {
  const file = await openRegularFile(path, wholeRead(limits));
  try {
    return await readAll(file, (await file.stat()).size);
  } finally {
    await file.close();
  }
}

/** {@link readRegularFile} as UTF-8 text. */
export async function readRegularText(path: string, limits: ReadLimits = {}): Promise<string> {
  return (await readRegularFile(path, limits)).toString("utf8");
}

/** Opens a regular file for reading (see the module comment); the caller closes it. */
export async function openRegularFile(path: string, limits: ReadLimits = {}): Promise<FileHandle> {
  let file: FileHandle;
  try {
    file = await open(path, READ);
  } catch (error) {
    throw translateOpenError(path, error);
  }
  try {
    checkRegularFile(path, await file.stat(), limits);
  } catch (error) {
    await file.close();
    throw error;
  }
  return file;
}

/** The synchronous twin of {@link readRegularFile}. */
export function readRegularFileSync(path: string, limits: ReadLimits = {}): Buffer {
  return readRegularEndSync(path, wholeRead(limits), Infinity);
}

/** The last `maxBytes` bytes of a regular file (all of a smaller one), read as {@link readRegularFileSync} reads. */
export function readRegularFileTailSync(path: string, maxBytes: number): Buffer {
  return readRegularEndSync(path, {}, maxBytes);
}

/** The last `lastBytes` bytes of a regular file within `limits`, read synchronously. */
function readRegularEndSync(path: string, limits: ReadLimits, lastBytes: number): Buffer {
  let fd: number;
  try {
    fd = openSync(path, READ);
  } catch (error) {
    throw translateOpenError(path, error);
  }
  try {
    const stats = fstatSync(fd);
    checkRegularFile(path, stats, limits);
    const from = Math.max(0, stats.size - lastBytes);
    const bytes = Buffer.alloc(stats.size - from);
    let at = 0;
    while (at < bytes.length) {
      const read = readSync(fd, bytes, at, bytes.length - at, from + at);
      if (read === 0) break;
      at += read;
    }
    return bytes.subarray(0, at);
  } finally {
    closeSync(fd);
  }
}

/** Reads up to `size` bytes from the start of an open file (less if it shrank meanwhile). */
async function readAll(file: FileHandle, size: number): Promise<Buffer> {
  const bytes = Buffer.alloc(size);
  let at = 0;
  while (at < size) {
    const { bytesRead } = await file.read(bytes, at, size - at, at);
    if (bytesRead === 0) break;
    at += bytesRead;
  }
  return bytes.subarray(0, at);
}

/** Creates `path` with `bytes`, mode 0600; EEXIST if anything (a symlink included) is there. */
export async function createFile(path: string, bytes: Uint8Array | string = ""): Promise<void> {
  const file = await open(path, CREATE_NEW, PRIVATE_FILE_MODE);
  try {
    if (bytes.length > 0) await file.writeFile(bytes);
  } finally {
    await file.close();
  }
}

/** The synchronous twin of {@link createFile}. */
export function createFileSync(path: string, bytes: Uint8Array | string = ""): void {
  const fd = openSync(path, CREATE_NEW, PRIVATE_FILE_MODE);
  try {
    const buffer = typeof bytes === "string" ? Buffer.from(bytes) : bytes;
    for (let at = 0; at < buffer.length; ) at += writeSync(fd, buffer, at, buffer.length - at);
  } finally {
    closeSync(fd);
  }
}

/**
 * Opens a log to append to; returns its descriptor and its size then (what earlier attempts
 * wrote). What is there must be a regular file of ours with one link (a log an earlier attempt
 * wrote); anything else (a symlink, a FIFO, another account's file, a hard link to some other
 * file) is removed and a fresh 0600 log created in its place. Opened for reading too, so that the
 * log can be cut through this descriptor (see `cutLogToTail`).
 */
export async function openLogForAppend(path: string): Promise<{ fd: number; size: number }> {
  let fd: number | undefined;
  try {
    fd = await openFd(path, APPEND);
    const stats = await fstatFd(fd);
    if (stats.isFile() && stats.nlink === 1 && isOwnFile(stats)) return { fd, size: stats.size };
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code !== "ELOOP" && code !== "ENXIO") throw error;
  }
  if (fd !== undefined) closeSync(fd);
  await unlink(path).catch(() => {});
  return { fd: await openFd(path, APPEND | O_EXCL), size: 0 };
}

function openFd(path: string, flags: number): Promise<number> {
  return new Promise((resolve, reject) => openCallback(path, flags, PRIVATE_FILE_MODE, (error, fd) => (error ? reject(error) : resolve(fd))));
}

function fstatFd(fd: number): Promise<Stats> {
  return new Promise((resolve, reject) => fstatCallback(fd, (error, stats) => (error ? reject(error) : resolve(stats))));
}

/**
 * Cuts a log through its open descriptor `fd` (see `openLogForAppend`): reads its first `keep`
 * bytes from `fd`, writes them and `rest` to a new 0600 file beside it and renames that over the
 * log, so that a reader sees the old log or the new one, whole. What is at the log's path now
 * (another account may have put a symlink there meanwhile) is never read, only replaced.
 */
export async function rewriteLogThrough(fd: number, path: string, keep: number, rest: Uint8Array): Promise<void> {
  const earlier = Buffer.alloc(keep);
  let at = 0;
  while (at < keep) {
    const read = await new Promise<number>((resolve, reject) =>
      readCallback(fd, earlier, at, keep - at, at, (error, bytesRead) => (error ? reject(error) : resolve(bytesRead))),
    );
    if (read === 0) break;
    at += read;
  }
  const next = `${path}.${process.pid}-${randomHex(4)}.cut`;
  try {
    await createFile(next, Buffer.concat([earlier.subarray(0, at), rest]));
    await rename(next, path);
  } catch (error) {
    await unlink(next).catch(() => {});
    throw error;
  }
}

/**
 * Rewrites the small file `path` in place (the signal file that agents watch), creating it if it
 * is missing; refuses anything but a regular file, and never writes through a symlink. The bytes
 * overwrite the old ones, and the file is cut only if it was longer: truncating it to nothing
 * first freed and took again its block each time, which cost about 1 ms per write on ext4 mounted
 * with `discard` (this machine), most of a `submit()` on an idle cluster.
 */
export function rewriteFileSync(path: string, bytes: Uint8Array | string): void {
  let fd: number;
  try {
    fd = openSync(path, O_WRONLY | O_CREAT | O_NOFOLLOW | O_NONBLOCK, PRIVATE_FILE_MODE);
  } catch (error) {
    throw translateOpenError(path, error);
  }
  try {
    const stats = fstatSync(fd);
    checkRegularFile(path, stats);
    const buffer = typeof bytes === "string" ? Buffer.from(bytes) : bytes;
    for (let at = 0; at < buffer.length; ) at += writeSync(fd, buffer, at, buffer.length - at, at);
    if (stats.size > buffer.length) ftruncateSync(fd, buffer.length);
  } finally {
    closeSync(fd);
  }
}

/**
 * Whether `path` is a directory itself, not a symlink to one (nor a file): another account may have
 * put a symlink where Malocher keeps a directory of its own (`dependents/<shard>/<jobId>/`,
 * `waiting/<shard>/<jobId>/`), through which its reads, writes and deletions would reach elsewhere.
 * False when nothing is there.
 */
export function isRealDirectorySync(path: string): boolean {
  try {
    return lstatSync(path).isDirectory();
  } catch {
    return false;
  }
}

/**
 * Makes `path` a private directory of ours if it is none: what stands there instead (a symlink, a
 * file: planted) is removed first. The makePrivateDirSync of directories another account may
 * replace.
 */
export function makeRealDirectorySync(path: string): void {
  if (isRealDirectorySync(path)) return;
  try {
    unlinkSync(path);
  } catch {}
  makePrivateDirSync(path);
}

/** Creates a private directory (0700 whatever the umask) and its missing parents; an existing one is left as it is. */
export function makePrivateDirSync(path: string): void {
  const created = mkdirSync(path, { recursive: true, mode: PRIVATE_DIR_MODE });
  if (created !== undefined) chmodSync(path, PRIVATE_DIR_MODE);
}

/** The asynchronous twin of {@link makePrivateDirSync}. */
export async function makePrivateDir(path: string): Promise<void> {
  const created = await mkdir(path, { recursive: true, mode: PRIVATE_DIR_MODE });
  if (created !== undefined) await chmod(path, PRIVATE_DIR_MODE);
}
