using AdCtr.Server.Storage;
using Microsoft.Win32.SafeHandles;

namespace AdCtr.Server.Tests.Storage;

/// <summary>
/// The real file system with a disk that can fill up and break, for tests: <see cref="FreeBytes"/> is the space
/// left (a write that does not fit writes what fits, then throws ENOSPC as Linux does; truncation and deletion
/// give space back), and <see cref="IoError"/> makes every write and fsync fail with EIO. Thread-safe.
/// </summary>
internal sealed class FaultInjectingFileSystem : StorageFileSystem
{
    /// <summary>errno values as .NET on Linux reports them in <see cref="Exception.HResult"/>.</summary>
    public const int Enospc = 28;
    public const int Eio = 5;

    private readonly Lock _lock = new();
    private long? _freeBytes;

    /// <summary>Space left; null (default) for unlimited.</summary>
    public long? FreeBytes
    {
        get
        {
            lock (_lock)
            {
                return _freeBytes;
            }
        }

        set
        {
            lock (_lock)
            {
                _freeBytes = value;
            }
        }
    }

    /// <summary>When true, writes and fsyncs fail with EIO (nothing is written).</summary>
    public volatile bool IoError;

    /// <summary>When true, snapshot files (<see cref="CreateForWriting"/>) fail with ENOSPC at their first write; the log is unaffected.</summary>
    public volatile bool SnapshotNoSpace;

    /// <summary>When true, ftruncate fails with EIO (so a failed append cannot be rolled back).</summary>
    public volatile bool TruncateFails;

    /// <summary>Number of writes, fsyncs and truncations that failed (for assertions).</summary>
    public int Failures => Volatile.Read(ref _failures);

    private int _failures;

    public override void Write(SafeFileHandle handle, ReadOnlySpan<byte> data, long fileOffset)
    {
        ThrowIfIoError("write");
        var length = RandomAccess.GetLength(handle);
        var growth = Math.Max(0, fileOffset + data.Length - length);
        var fits = Take(growth);
        if (fits < growth)
        {
            // Write what fits, as a real full disk does, then fail.
            var partial = (int)Math.Max(0, length + fits - fileOffset);
            RandomAccess.Write(handle, data[..partial], fileOffset);
            Interlocked.Increment(ref _failures);
            throw new IOException("No space left on device : 'fault-injection'", Enospc);
        }

        RandomAccess.Write(handle, data, fileOffset);
    }

    public override void FlushToDisk(SafeFileHandle handle)
    {
        ThrowIfIoError("fsync");
        base.FlushToDisk(handle);
    }

    public override void SetLength(SafeFileHandle handle, long length)
    {
        if (TruncateFails || IoError)
        {
            Interlocked.Increment(ref _failures);
            throw new IOException("Input/output error : 'fault-injection'", Eio);
        }

        var before = RandomAccess.GetLength(handle);
        RandomAccess.SetLength(handle, length);
        Give(before - length);
    }

    public override void DeleteFile(string path)
    {
        var length = File.Exists(path) ? new FileInfo(path).Length : 0;
        File.Delete(path);
        Give(length);
    }

    public override Stream CreateForWriting(string path) => new BudgetStream(this, base.CreateForWriting(path));

    public override void FlushToDisk(Stream stream)
    {
        ThrowIfIoError("fsync");
        base.FlushToDisk(((BudgetStream)stream).Inner);
    }

    private void ThrowIfIoError(string what)
    {
        if (IoError)
        {
            Interlocked.Increment(ref _failures);
            throw new IOException("Input/output error (" + what + ") : 'fault-injection'", Eio);
        }
    }

    /// <summary>Takes up to <paramref name="bytes"/> of the free space; returns how many were granted.</summary>
    private long Take(long bytes)
    {
        lock (_lock)
        {
            if (_freeBytes is not { } free)
            {
                return bytes;
            }

            var granted = Math.Min(free, bytes);
            _freeBytes = free - granted;
            return granted;
        }
    }

    private void Give(long bytes)
    {
        lock (_lock)
        {
            if (_freeBytes is { } free && bytes > 0)
            {
                _freeBytes = free + bytes;
            }
        }
    }

    /// <summary>A snapshot file whose writes take from the free space (beyond its current length).</summary>
    private sealed class BudgetStream(FaultInjectingFileSystem owner, Stream inner) : Stream
    {
        public Stream Inner => inner;

        public override bool CanRead => inner.CanRead;

        public override bool CanSeek => inner.CanSeek;

        public override bool CanWrite => true;

        public override long Length => inner.Length;

        public override long Position
        {
            get => inner.Position;
            set => inner.Position = value;
        }

        public override void Write(byte[] buffer, int offset, int count) => Write(buffer.AsSpan(offset, count));

        public override void Write(ReadOnlySpan<byte> buffer)
        {
            Check(buffer.Length);
            inner.Write(buffer);
        }

        public override async ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
        {
            Check(buffer.Length);
            await inner.WriteAsync(buffer, cancellationToken);
        }

        public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
            WriteAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

        public override void Flush() => inner.Flush();

        public override Task FlushAsync(CancellationToken cancellationToken) => inner.FlushAsync(cancellationToken);

        public override int Read(byte[] buffer, int offset, int count) => inner.Read(buffer, offset, count);

        public override long Seek(long offset, SeekOrigin origin) => inner.Seek(offset, origin);

        public override void SetLength(long value) => inner.SetLength(value);

        protected override void Dispose(bool disposing)
        {
            if (disposing)
            {
                inner.Dispose();
            }

            base.Dispose(disposing);
        }

        public override async ValueTask DisposeAsync()
        {
            await inner.DisposeAsync();
            await base.DisposeAsync();
        }

        private void Check(int count)
        {
            owner.ThrowIfIoError("write");
            if (owner.SnapshotNoSpace)
            {
                Interlocked.Increment(ref owner._failures);
                throw new IOException("No space left on device : 'fault-injection'", Enospc);
            }

            var growth = Math.Max(0, inner.Position + count - inner.Length);
            if (owner.Take(growth) < growth)
            {
                Interlocked.Increment(ref owner._failures);
                throw new IOException("No space left on device : 'fault-injection'", Enospc);
            }
        }
    }
}
