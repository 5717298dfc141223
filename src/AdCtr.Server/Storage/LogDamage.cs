namespace AdCtr.Server.Storage;

/// <summary>What was wrong with a record (or the space between segments) of the <see cref="ExampleLog"/>.</summary>
public enum LogDamageKind
{
    /// <summary>No damage.</summary>
    None = 0,

    /// <summary>Fewer than the 8 header bytes remain in the segment.</summary>
    TruncatedHeader = 1,

    /// <summary>The header announces more payload bytes than remain in the segment.</summary>
    TruncatedPayload = 2,

    /// <summary>The length is 0 (empty payloads are never written: a zero-filled tail is detected this way) or above <see cref="ExampleLog.MaxPayloadBytes"/>.</summary>
    InvalidLength = 3,

    /// <summary>The CRC32C stored in the header does not match the payload.</summary>
    ChecksumMismatch = 4,

    /// <summary>A segment does not start where the previous one ends (a file is missing or shorter than it was).</summary>
    MissingData = 5,

    /// <summary>The log ends inside a batch: its last record (the one without the "continues" flag) never reached the
    /// disk, because the append was cut short (crash, full disk, I/O error). The batch was never acknowledged.</summary>
    UncommittedBatch = 6,
}

/// <summary>A damaged place in the log: the segment file, the byte offset in it, the global position and what was wrong.</summary>
/// <param name="SegmentPath">The segment file.</param>
/// <param name="SegmentOffset">Byte offset of the damaged record within the file.</param>
/// <param name="Position">Global position of the damaged record.</param>
/// <param name="Kind">What was wrong.</param>
/// <param name="SkippedBytes">Bytes not read because of it (rest of the segment, or the size of the gap).</param>
public sealed record LogCorruption(string SegmentPath, long SegmentOffset, LogPosition Position, LogDamageKind Kind, long SkippedBytes)
{
    /// <summary>A one-line description naming file and offset.</summary>
    public override string ToString() =>
        "Example log damaged (" + Kind + ") in segment '" + SegmentPath + "' at offset " + SegmentOffset +
        " (log position " + Position + "); " + SkippedBytes + " bytes after it are unreadable.";
}

/// <summary>Thrown by <see cref="ExampleLog.ReadFrom"/> when it meets a damaged record and skipping was not requested.</summary>
public sealed class LogCorruptionException : IOException
{
    public LogCorruptionException(LogCorruption corruption)
        : base(corruption.ToString())
    {
        Corruption = corruption;
    }

    /// <summary>Where and what.</summary>
    public LogCorruption Corruption { get; }
}

/// <summary>
/// What <see cref="ExampleLog.Open"/> found in the last (active) segment. A torn or damaged tail is cut off
/// at the first bad record: <see cref="TruncatedBytes"/> bytes from <see cref="TruncatedAt"/> on were removed.
/// How many records those bytes held cannot be known (a bad header hides the lengths after it); when
/// <see cref="TruncatedBytes"/> is non-zero, at least one (partial) record was lost. An unfinished batch at the end
/// is cut off whole (<see cref="UncommittedRecords"/> complete records of it, plus any torn one): such a batch was
/// never acknowledged, and replaying part of it would make a client's retry learn those examples twice. When it
/// began in an earlier segment, the segments after that one are deleted and that one becomes the active segment.
/// </summary>
public sealed record LogRecoveryReport(
    string ActiveSegmentPath,
    int SegmentCount,
    long RecordsInActiveSegment,
    LogPosition EndPosition,
    LogPosition TruncatedAt,
    long TruncatedBytes,
    LogDamageKind Damage,
    long UncommittedRecords)
{
    /// <summary>True when a tail was cut off.</summary>
    public bool Truncated => TruncatedBytes > 0;
}

/// <summary>A segment file of the log.</summary>
/// <param name="Path">Full path of the file.</param>
/// <param name="FirstPosition">Position of its first byte (the number in its name).</param>
/// <param name="Length">Its size in bytes.</param>
/// <param name="CreatedUtc">File creation time as the file system reports it (birth time where supported).</param>
/// <param name="LastWriteUtc">Time of the last write: every record in it was appended at or before this time.</param>
/// <param name="IsActive">True for the segment appends go to.</param>
public sealed record LogSegmentInfo(string Path, LogPosition FirstPosition, long Length, DateTimeOffset CreatedUtc, DateTimeOffset LastWriteUtc, bool IsActive)
{
    /// <summary>Position right after its last byte.</summary>
    public LogPosition EndPosition => new(FirstPosition.Value + Length);
}

/// <summary>What <see cref="ExampleLog.ApplyRetention"/> deleted.</summary>
public sealed record LogRetentionResult(IReadOnlyList<LogSegmentInfo> Deleted, long DeletedBytes, long RemainingBytes);
