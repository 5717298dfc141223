using AdCtr.Learning.Hashing;
using System.Buffers.Binary;
using System.Globalization;
using System.Threading.Channels;
using Microsoft.Win32.SafeHandles;

namespace AdCtr.Server.Storage;

/// <summary>
/// Append-only, segmented log of opaque records (the caller serialises examples), in one directory.
/// </summary>
/// <remarks>
/// <para>Record: <c>[u32 payload length][u32 CRC32C of the payload][payload]</c>, little-endian. Empty payloads are
/// refused, so a zero-filled tail (what a file system may leave after a power loss) never parses as records.</para>
/// <para>Segments are files <c>examples-{firstPosition:D20}.log</c>; a new one is started when the next record
/// would make the active one larger than <see cref="StorageOptions.SegmentBytes"/> (a single record larger than
/// that gets a segment of its own). A <see cref="LogPosition"/> is a global byte offset.</para>
/// <para>Appends are group-committed: callers enqueue into a channel, one writer loop drains everything pending,
/// writes it with one write call per segment, applies the <see cref="FsyncPolicy"/> and then completes the
/// appends. Records of one batch are contiguous and in list order; appends are ordered as they enter the queue.
/// What an acknowledged append survives is documented on <see cref="FsyncPolicy"/>.</para>
/// <para>If a write or fsync fails the log becomes faulted: pending and later appends fail with an
/// <see cref="IOException"/>; records of a failed append may or may not be in the file. Reopen to recover.</para>
/// <para>One process owns a log directory at a time (an exclusive lock on <c>.lock</c>).</para>
/// </remarks>
public sealed partial class ExampleLog : IAsyncDisposable
{
    /// <summary>Bytes of a record header (length + CRC).</summary>
    public const int RecordHeaderBytes = 8;

    /// <summary>Largest payload accepted (16 MiB); longer lengths read from disk are treated as damage.</summary>
    public const int MaxPayloadBytes = 16 * 1024 * 1024;

    private const string SegmentPrefix = "examples-";
    private const string SegmentSuffix = ".log";
    private const int WriteBufferBytes = 4 << 20;

    private readonly string _directory;
    private readonly FsyncPolicy _policy;
    private readonly TimeSpan _fsyncInterval;
    private readonly long _segmentBytes;
    private readonly long? _retainBytes;
    private readonly TimeSpan? _retainAge;
    private readonly TimeProvider _timeProvider;
    private readonly FileStream _lockFile;
    private readonly Channel<AppendRequest> _channel;
    private readonly Task _writerTask;

    // Owned by the writer loop.
    private SafeFileHandle _segment;
    private long _segmentBase;
    private long _segmentWritten;
    private byte[] _buffer = new byte[WriteBufferBytes];
    private int _buffered;
    private long _lastSyncTimestamp;
    private bool _unsynced;

    // Read by any thread.
    private long _endPosition;
    private long _durablePosition;
    private long _activeSegmentBase;
    private volatile Exception? _fault;
    private int _disposed;

    private ExampleLog(StorageOptions options, TimeProvider timeProvider, FileStream lockFile, SafeFileHandle segment, long segmentBase, long segmentLength, LogRecoveryReport report)
    {
        _directory = Path.GetFullPath(options.LogDirectory);
        _policy = options.FsyncPolicy;
        _fsyncInterval = TimeSpan.FromMilliseconds(options.FsyncIntervalMs);
        _segmentBytes = options.SegmentBytes;
        _retainBytes = options.RetainBytes;
        _retainAge = options.RetainHours is { } hours ? TimeSpan.FromHours(hours) : null;
        _timeProvider = timeProvider;
        _lockFile = lockFile;
        _segment = segment;
        _segmentBase = segmentBase;
        _segmentWritten = segmentLength;
        _activeSegmentBase = segmentBase;
        _endPosition = segmentBase + segmentLength;
        _durablePosition = _endPosition;
        _lastSyncTimestamp = timeProvider.GetTimestamp();
        Recovery = report;
        _channel = Channel.CreateUnbounded<AppendRequest>(new UnboundedChannelOptions { SingleReader = true, AllowSynchronousContinuations = false });
        _writerTask = Task.Run(WriterLoopAsync);
    }

    /// <summary>Told what the writer loop writes and how long each fsync takes (metrics); set it before appending.</summary>
    public IExampleLogObserver? Observer { get; set; }

    /// <summary>Test hook: called on the writer loop after each fsync with the durable position.</summary>
    internal Action<long>? SyncedForTest { get; set; }

    /// <summary>The log directory.</summary>
    public string DirectoryPath => _directory;

    /// <summary>What opening found and repaired in the active segment.</summary>
    public LogRecoveryReport Recovery { get; }

    /// <summary>Position right after the last acknowledged record (where <see cref="ReadFrom"/> stops).</summary>
    public LogPosition EndPosition => new(Volatile.Read(ref _endPosition));

    /// <summary>Position up to which records have been fsynced.</summary>
    public LogPosition DurablePosition => new(Volatile.Read(ref _durablePosition));

    /// <summary>
    /// Opens (or creates) the log in <see cref="StorageOptions.LogDirectory"/>. Scans the last segment and cuts
    /// a torn or damaged tail off at the first bad record (see <see cref="Recovery"/>). Older segments are
    /// checked when they are read.
    /// </summary>
    /// <exception cref="ArgumentException">The options are invalid.</exception>
    /// <exception cref="IOException">Another process (or another instance) has the directory open.</exception>
    public static ExampleLog Open(StorageOptions options, TimeProvider? timeProvider = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.ThrowIfInvalid();
        var directory = Path.GetFullPath(options.LogDirectory);
        Directory.CreateDirectory(directory);
        var lockFile = new FileStream(Path.Combine(directory, ".lock"), FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None);
        try
        {
            var segments = ListSegmentFiles(directory);
            if (segments.Count == 0)
            {
                var path = SegmentPath(directory, 0);
                var created = File.OpenHandle(path, FileMode.CreateNew, FileAccess.ReadWrite, FileShare.Read | FileShare.Delete);
                DirectorySync.TryFsync(directory);
                var empty = new LogRecoveryReport(path, 1, 0, LogPosition.Zero, LogPosition.Zero, 0, LogDamageKind.None);
                return new ExampleLog(options, timeProvider ?? TimeProvider.System, lockFile, created, 0, 0, empty);
            }

            var (lastPath, lastBase) = segments[^1];
            var (goodLength, records, fileLength, damage) = ScanSegment(lastPath);
            var handle = File.OpenHandle(lastPath, FileMode.Open, FileAccess.ReadWrite, FileShare.Read | FileShare.Delete);
            if (goodLength < fileLength)
            {
                RandomAccess.SetLength(handle, goodLength);
                RandomAccess.FlushToDisk(handle);
            }

            var report = new LogRecoveryReport(lastPath, segments.Count, records, new LogPosition(lastBase + goodLength), new LogPosition(lastBase + goodLength), fileLength - goodLength, damage);
            return new ExampleLog(options, timeProvider ?? TimeProvider.System, lockFile, handle, lastBase, goodLength, report);
        }
        catch
        {
            lockFile.Dispose();
            throw;
        }
    }

    /// <summary>Appends one record. The memory must not change until the returned task completes.</summary>
    /// <returns>The position of the record, once acknowledged as the <see cref="FsyncPolicy"/> says.</returns>
    public async ValueTask<LogPosition> AppendAsync(ReadOnlyMemory<byte> payload)
    {
        ValidatePayload(payload.Length);
        var request = new AppendRequest(payload, null, flushOnly: false);
        Enqueue(request);
        var range = await request.Completion.Task.ConfigureAwait(false);
        return range.Start;
    }

    /// <summary>Appends records contiguously, in list order. The memory must not change until the returned task completes.</summary>
    public ValueTask<LogRange> AppendBatchAsync(IReadOnlyList<ReadOnlyMemory<byte>> payloads)
    {
        ArgumentNullException.ThrowIfNull(payloads);
        for (var i = 0; i < payloads.Count; i++)
        {
            ValidatePayload(payloads[i].Length);
        }

        if (payloads.Count == 0)
        {
            var end = EndPosition;
            return new ValueTask<LogRange>(new LogRange(end, end, 0));
        }

        var request = new AppendRequest(default, payloads, flushOnly: false);
        Enqueue(request);
        return new ValueTask<LogRange>(request.Completion.Task);
    }

    /// <summary>fsyncs everything acknowledged so far, whatever the policy; returns the durable position.</summary>
    public async ValueTask<LogPosition> FlushAsync()
    {
        var request = new AppendRequest(default, null, flushOnly: true);
        Enqueue(request);
        var range = await request.Completion.Task.ConfigureAwait(false);
        return range.End;
    }

    /// <summary>The segment files, oldest first.</summary>
    public IReadOnlyList<LogSegmentInfo> GetSegments()
    {
        var active = Volatile.Read(ref _activeSegmentBase);
        var files = ListSegmentFiles(_directory);
        var result = new List<LogSegmentInfo>(files.Count);
        foreach (var (path, first) in files)
        {
            var info = new FileInfo(path);
            if (!info.Exists)
            {
                continue; // deleted meanwhile
            }

            result.Add(new LogSegmentInfo(path, new LogPosition(first), info.Length, info.CreationTimeUtc, info.LastWriteTimeUtc, first == active));
        }

        return result;
    }

    /// <summary>
    /// Deletes the oldest segments while the log exceeds <see cref="StorageOptions.RetainBytes"/> or while the
    /// oldest one's last write is older than <see cref="StorageOptions.RetainHours"/>. Never deletes the active
    /// segment nor a segment holding any byte at or after <paramref name="protectedPosition"/> (the position the
    /// newest snapshot resumes from), and only ever deletes a prefix, so the log stays contiguous.
    /// </summary>
    public LogRetentionResult ApplyRetention(LogPosition protectedPosition)
    {
        var segments = GetSegments();
        long total = 0;
        foreach (var segment in segments)
        {
            total += segment.Length;
        }

        var activeBase = Volatile.Read(ref _activeSegmentBase);
        DateTimeOffset? cutoff = _retainAge is { } age ? _timeProvider.GetUtcNow() - age : null;
        var deleted = new List<LogSegmentInfo>();
        long deletedBytes = 0;
        foreach (var segment in segments)
        {
            if (segment.IsActive || segment.FirstPosition.Value >= activeBase || segment.EndPosition > protectedPosition)
            {
                break;
            }

            var overSize = _retainBytes is { } max && total > max;
            var tooOld = cutoff is { } c && segment.LastWriteUtc < c;
            if (!overSize && !tooOld)
            {
                break;
            }

            File.Delete(segment.Path);
            total -= segment.Length;
            deletedBytes += segment.Length;
            deleted.Add(segment);
        }

        if (deleted.Count > 0)
        {
            DirectorySync.TryFsync(_directory);
        }

        return new LogRetentionResult(deleted, deletedBytes, total);
    }

    /// <summary>Stops accepting appends, writes and fsyncs what is pending, closes the files.</summary>
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        _channel.Writer.TryComplete();
        try
        {
            await _writerTask.ConfigureAwait(false);
        }
        finally
        {
            _segment.Dispose();
            await _lockFile.DisposeAsync().ConfigureAwait(false);
        }
    }

    internal static string SegmentPath(string directory, long firstPosition) =>
        Path.Combine(directory, SegmentPrefix + firstPosition.ToString("D20", CultureInfo.InvariantCulture) + SegmentSuffix);

    internal static List<(string Path, long FirstPosition)> ListSegmentFiles(string directory)
    {
        var result = new List<(string, long)>();
        foreach (var path in Directory.EnumerateFiles(directory, SegmentPrefix + "*" + SegmentSuffix))
        {
            var name = Path.GetFileName(path.AsSpan());
            var digits = name[SegmentPrefix.Length..^SegmentSuffix.Length];
            if (digits.Length == 20 && long.TryParse(digits, NumberStyles.None, CultureInfo.InvariantCulture, out var first))
            {
                result.Add((path, first));
            }
        }

        result.Sort(static (a, b) => a.Item2.CompareTo(b.Item2));
        return result;
    }

    private static (long GoodLength, long Records, long FileLength, LogDamageKind Damage) ScanSegment(string path)
    {
        using var reader = new SegmentReader(path, 0, long.MaxValue);
        long records = 0;
        var damage = LogDamageKind.None;
        long good = 0;
        // Bounded: every successful read advances by at least 9 bytes within a file of finite length.
        while (true)
        {
            if (reader.TryReadNext(out var offset, out _, out damage))
            {
                records++;
                continue;
            }

            good = offset;
            break;
        }

        return (good, records, reader.FileLength, damage);
    }

    private static void ValidatePayload(int length)
    {
        if (length is 0 or > MaxPayloadBytes)
        {
            ThrowPayloadLength(length);
        }
    }

    private static void ThrowPayloadLength(int length) =>
        throw new ArgumentOutOfRangeException("payload", length, "A payload must hold 1.." + MaxPayloadBytes + " bytes.");

    private void Enqueue(AppendRequest request)
    {
        ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) != 0, this);
        if (_fault is { } fault)
        {
            throw new IOException("The example log is faulted by an earlier I/O error; reopen it.", fault);
        }

        if (!_channel.Writer.TryWrite(request))
        {
            throw new ObjectDisposedException(nameof(ExampleLog));
        }
    }

    private sealed class AppendRequest(ReadOnlyMemory<byte> single, IReadOnlyList<ReadOnlyMemory<byte>>? batch, bool flushOnly)
    {
        public ReadOnlyMemory<byte> Single { get; } = single;

        public IReadOnlyList<ReadOnlyMemory<byte>>? Batch { get; } = batch;

        public bool FlushOnly { get; } = flushOnly;

        public long Start { get; set; }

        public long End { get; set; }

        public TaskCompletionSource<LogRange> Completion { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
    }

    private static void WriteHeader(Span<byte> destination, ReadOnlySpan<byte> payload)
    {
        BinaryPrimitives.WriteUInt32LittleEndian(destination, (uint)payload.Length);
        BinaryPrimitives.WriteUInt32LittleEndian(destination[4..], Crc32C.Compute(payload));
    }
}
