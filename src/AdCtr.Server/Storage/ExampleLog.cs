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
/// <para>Batches are all-or-nothing: every record of a batch but the last carries a "continues" flag (bit 31 of
/// its length word, covered by its CRC), so a batch is committed exactly when its last record is on disk. Open
/// cuts off an unfinished batch at the end of the log (a crash, a full disk or an I/O error in the middle of
/// it), so no part of an append that was not acknowledged is ever read back.</para>
/// <para>If a write or fsync fails, the appends of that group fail with a <see cref="StorageFaultException"/>
/// (<see cref="StorageFaultKind.NoSpace"/> or <see cref="StorageFaultKind.IoError"/>) and the file is cut back to
/// where the last acknowledged append ended; the next append simply tries again, so the log recovers by itself
/// once the device takes writes again. <see cref="LastError"/> holds the fault until a write succeeds
/// (or <see cref="ProbeAsync"/> finds the device writable).</para>
/// <para>One process owns a log directory at a time (an exclusive lock on <c>.lock</c>).</para>
/// </remarks>
public sealed partial class ExampleLog : IAsyncDisposable
{
    /// <summary>Bytes of a record header (length + CRC).</summary>
    public const int RecordHeaderBytes = 8;

    /// <summary>Largest payload accepted (16 MiB); longer lengths read from disk are treated as damage.</summary>
    public const int MaxPayloadBytes = 16 * 1024 * 1024;

    /// <summary>Bit of the length word set on every record of a batch but its last ("more of this batch follows").</summary>
    internal const uint ContinuesFlag = 0x8000_0000u;

    /// <summary>The file that holds the directory's lock while a log is open.</summary>
    public const string LockFileName = ".lock";

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
    private readonly StorageFileSystem _fs;
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
    private long _rollbackBase = -1;
    private long _rollbackWritten;
    private long _lastFailedBytes;

    // Read by any thread.
    private long _endPosition;
    private long _durablePosition;
    private long _activeSegmentBase;
    private volatile StorageFaultException? _lastError;
    private int _disposed;

    private ExampleLog(StorageOptions options, TimeProvider timeProvider, StorageFileSystem fs, FileStream lockFile, SafeFileHandle segment, long segmentBase, long segmentLength, LogRecoveryReport report)
    {
        _directory = Path.GetFullPath(options.LogDirectory);
        _policy = options.FsyncPolicy;
        _fsyncInterval = TimeSpan.FromMilliseconds(options.FsyncIntervalMs);
        _segmentBytes = options.SegmentBytes;
        _retainBytes = options.RetainBytes;
        _retainAge = options.RetainHours is { } hours ? TimeSpan.FromHours(hours) : null;
        _timeProvider = timeProvider;
        _fs = fs;
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

    /// <summary>
    /// The last write, fsync or probe failure, until a later one succeeds; null while the log writes normally.
    /// Appends are still attempted while it is set (each one is a retry).
    /// </summary>
    public StorageFaultException? LastError => _lastError;

    /// <summary>Called on the writer loop for every failed write, fsync or probe (keep it short: metrics and a log line).</summary>
    public Action<StorageFaultException>? FaultObserved { get; set; }

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
    /// <exception cref="StorageStartupException">Another process (or another instance) has the directory open.</exception>
    public static ExampleLog Open(StorageOptions options, TimeProvider? timeProvider = null, StorageFileSystem? fileSystem = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.ThrowIfInvalid();
        var fs = fileSystem ?? StorageFileSystem.Default;
        var directory = Path.GetFullPath(options.LogDirectory);
        Directory.CreateDirectory(directory);
        FileStream lockFile;
        try
        {
            lockFile = new FileStream(Path.Combine(directory, LockFileName), FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None);
        }
        catch (IOException e) when (e is not (FileNotFoundException or DirectoryNotFoundException))
        {
            throw DataDirectory.Locked(directory, e);
        }

        try
        {
            var segments = ListSegmentFiles(directory);
            if (segments.Count == 0)
            {
                var path = SegmentPath(directory, 0);
                var created = fs.OpenHandle(path, FileMode.CreateNew, FileAccess.ReadWrite, FileShare.Read | FileShare.Delete);
                DirectorySync.TryFsync(directory);
                var empty = new LogRecoveryReport(path, 1, 0, LogPosition.Zero, LogPosition.Zero, 0, LogDamageKind.None, 0);
                return new ExampleLog(options, timeProvider ?? TimeProvider.System, fs, lockFile, created, 0, 0, empty);
            }

            var (handle, segmentBase, length, report) = RecoverTail(fs, directory, segments);
            return new ExampleLog(options, timeProvider ?? TimeProvider.System, fs, lockFile, handle, segmentBase, length, report);
        }
        catch
        {
            lockFile.Dispose();
            throw;
        }
    }

    /// <summary>
    /// Finds where the log really ends and cuts everything after it: a torn or damaged last record, and an
    /// unfinished batch (records whose "continues" flag points past the end). A batch can span segments (one larger
    /// than a segment, or one that started near a segment's end): when the last segment holds no batch end at all,
    /// the unfinished batch may have begun in the segment before, so that one is scanned as well, and segments that
    /// hold nothing but the unfinished batch are deleted.
    /// </summary>
    private static (Microsoft.Win32.SafeHandles.SafeFileHandle Handle, long SegmentBase, long Length, LogRecoveryReport Report) RecoverTail(StorageFileSystem fs, string directory, List<(string Path, long FirstPosition)> segments)
    {
        var index = segments.Count - 1;
        var scan = ScanSegment(segments[index].Path);
        var damage = scan.Damage;
        long removed = 0;
        long uncommitted = 0;
        long cut;
        long kept;
        // Bounded by the number of segments: each pass moves one segment back.
        while (true)
        {
            if (!scan.EndsInOpenBatch)
            {
                cut = scan.GoodLength;
                kept = scan.Records;
                break;
            }

            if (scan.CommitEnd > 0 || index == 0)
            {
                cut = scan.CommitEnd;
                kept = scan.CommittedRecords;
                uncommitted += scan.Records - scan.CommittedRecords;
                break;
            }

            // No batch ends in this segment: its open batch began at its start, or in the segment before.
            var previous = ScanSegment(segments[index - 1].Path);
            uncommitted += scan.Records;
            if (!previous.EndsInOpenBatch)
            {
                cut = 0;
                kept = 0;
                break;
            }

            removed += scan.FileLength;
            index--;
            scan = previous;
        }

        removed += scan.FileLength - cut;
        if (damage == LogDamageKind.None && uncommitted > 0)
        {
            damage = LogDamageKind.UncommittedBatch;
        }

        var deleted = false;
        for (var i = segments.Count - 1; i > index; i--)
        {
            fs.DeleteFile(segments[i].Path);
            deleted = true;
        }

        if (deleted)
        {
            DirectorySync.TryFsync(directory);
        }

        var (path, segmentBase) = segments[index];
        var handle = fs.OpenHandle(path, FileMode.Open, FileAccess.ReadWrite, FileShare.Read | FileShare.Delete);
        try
        {
            if (cut < scan.FileLength)
            {
                fs.SetLength(handle, cut);
                fs.FlushToDisk(handle);
            }
        }
        catch
        {
            handle.Dispose();
            throw;
        }

        var end = new LogPosition(segmentBase + cut);
        var report = new LogRecoveryReport(path, index + 1, kept, end, end, removed, damage, uncommitted);
        return (handle, segmentBase, cut, report);
    }

    /// <summary>Appends one record. The memory must not change until the returned task completes.</summary>
    /// <returns>The position of the record, once acknowledged as the <see cref="FsyncPolicy"/> says.</returns>
    public async ValueTask<LogPosition> AppendAsync(ReadOnlyMemory<byte> payload)
    {
        ValidatePayload(payload.Length);
        var request = new AppendRequest(payload, null, RequestKind.Append);
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

        var request = new AppendRequest(default, payloads, RequestKind.Append);
        Enqueue(request);
        return new ValueTask<LogRange>(request.Completion.Task);
    }

    /// <summary>fsyncs everything acknowledged so far, whatever the policy; returns the durable position.</summary>
    public async ValueTask<LogPosition> FlushAsync()
    {
        var request = new AppendRequest(default, null, RequestKind.Flush);
        Enqueue(request);
        var range = await request.Completion.Task.ConfigureAwait(false);
        return range.End;
    }

    /// <summary>
    /// Checks, on the writer loop, that the log's device takes writes: writes a file the size of the last failed
    /// append (4 KiB..4 MiB) to the log directory, fsyncs and deletes it, and fsyncs pending appends. Clears
    /// <see cref="LastError"/> on success; throws <see cref="StorageFaultException"/> otherwise.
    /// </summary>
    public async ValueTask ProbeAsync()
    {
        var request = new AppendRequest(default, null, RequestKind.Probe);
        Enqueue(request);
        await request.Completion.Task.ConfigureAwait(false);
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

    /// <summary>What a scan of one segment found: where its good records end, and where its last complete batch ends.</summary>
    private readonly record struct SegmentScan(long GoodLength, long Records, long FileLength, LogDamageKind Damage, long CommitEnd, long CommittedRecords, bool EndsInOpenBatch);

    private static SegmentScan ScanSegment(string path)
    {
        using var reader = new SegmentReader(path, 0, long.MaxValue);
        long records = 0;
        long commitEnd = 0;
        long committed = 0;
        var open = false;
        LogDamageKind damage;
        long good;
        // Bounded: every successful read advances by at least 9 bytes within a file of finite length.
        while (true)
        {
            if (reader.TryReadNext(out var offset, out _, out var continues, out damage))
            {
                records++;
                open = continues;
                if (!continues)
                {
                    commitEnd = reader.Offset;
                    committed = records;
                }

                continue;
            }

            good = offset;
            break;
        }

        return new SegmentScan(good, records, reader.FileLength, damage, commitEnd, committed, open);
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
        if (!_channel.Writer.TryWrite(request))
        {
            throw new ObjectDisposedException(nameof(ExampleLog));
        }
    }

    private enum RequestKind
    {
        Append,
        Flush,
        Probe,
    }

    private sealed class AppendRequest(ReadOnlyMemory<byte> single, IReadOnlyList<ReadOnlyMemory<byte>>? batch, RequestKind kind)
    {
        public ReadOnlyMemory<byte> Single { get; } = single;

        public IReadOnlyList<ReadOnlyMemory<byte>>? Batch { get; } = batch;

        public RequestKind Kind { get; } = kind;

        public long Start { get; set; }

        public long End { get; set; }

        public TaskCompletionSource<LogRange> Completion { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
    }

    private static void WriteHeader(Span<byte> destination, ReadOnlySpan<byte> payload, bool continues)
    {
        BinaryPrimitives.WriteUInt32LittleEndian(destination, (uint)payload.Length | (continues ? ContinuesFlag : 0));
        BinaryPrimitives.WriteUInt32LittleEndian(destination[4..], RecordCrc(payload, continues));
    }

    /// <summary>CRC32C of the payload; for a record that continues its batch, of the payload followed by one byte 0x01,
    /// so that a flipped flag bit fails the check (records written before batches were framed have no flag and plain CRCs).</summary>
    internal static uint RecordCrc(ReadOnlySpan<byte> payload, bool continues) =>
        continues ? Crc32C.Finish(Crc32C.Update(Crc32C.Update(Crc32C.InitialState, payload), [1])) : Crc32C.Compute(payload);
}
