namespace AdCtr.Learning.Readers;

/// <summary>The log formats <see cref="ExampleReaders"/> can open.</summary>
public enum LogFormat
{
    /// <summary>
    /// Criteo Display Advertising Challenge TSV: <c>label \t I1..I13 \t C1..C26</c>, 40 columns, no header,
    /// an empty column is a missing value. No timestamp: the row order is the time.
    /// </summary>
    Criteo,

    /// <summary>
    /// Avazu CTR prediction CSV with a header line (<c>id,click,hour,C1,banner_pos,...</c>); columns are mapped
    /// by name, <c>click</c> is the label, <c>hour</c> (YYMMDDHH, UTC) the example time. No quoting.
    /// </summary>
    Avazu,

    /// <summary>AdCtr's own NDJSON example log: one JSON object per line.</summary>
    AdCtrJson,

    /// <summary>
    /// Any CSV log with a header line (RFC 4180 quoting): the spec's <see cref="Features.FeatureSpec.Label"/> and
    /// optional <see cref="Features.FeatureSpec.Timestamp"/> name columns, the spec's fields name the feature columns.
    /// </summary>
    Csv,
}

/// <summary>Options of a log reader. The defaults suit every format.</summary>
public sealed class ReaderOptions
{
    public static readonly ReaderOptions Default = new();

    /// <summary>Throw <see cref="MalformedLineException"/> at the first malformed line instead of skipping it.</summary>
    public bool Strict { get; init; }

    /// <summary>How many malformed lines <see cref="ReaderStatistics.FirstMalformed"/> keeps (line number and reason).</summary>
    public int MaxReportedMalformed { get; init; } = 20;

    /// <summary>Initial size of the reusable line buffer; 1 MiB.</summary>
    public int BufferBytes { get; init; } = 1 << 20;

    /// <summary>
    /// The longest line accepted, in bytes, without its newline; 16 MiB. The buffer grows up to this size for a
    /// long line; a longer line is skipped as malformed (or throws in strict mode), in constant memory.
    /// </summary>
    public int MaxLineBytes { get; init; } = 16 << 20;

    /// <summary>Leave the stream open when the reader is disposed.</summary>
    public bool LeaveOpen { get; init; }

    /// <summary>
    /// AdCtr NDJSON only: a top-level member other than the documented ones (label, weight, timestamp,
    /// campaignId, adId, advertiserId, context, features, trueCtr, clickDelaySeconds) makes the line malformed
    /// (the server's strict ingestion). Off by default: logs may carry extra members.
    /// </summary>
    public bool RejectUnknownMembers { get; init; }

    internal void Validate()
    {
        if (MaxReportedMalformed < 0)
        {
            throw new ArgumentOutOfRangeException(nameof(MaxReportedMalformed), MaxReportedMalformed, "must be >= 0");
        }

        if (BufferBytes < 16)
        {
            throw new ArgumentOutOfRangeException(nameof(BufferBytes), BufferBytes, "must be >= 16");
        }

        if (MaxLineBytes < BufferBytes)
        {
            throw new ArgumentOutOfRangeException(nameof(MaxLineBytes), MaxLineBytes, "must be >= BufferBytes");
        }
    }
}

/// <summary>A malformed line: its 1-based physical line number and why it was rejected.</summary>
public readonly record struct MalformedLine(long LineNumber, string Reason)
{
    public override string ToString() => $"line {LineNumber}: {Reason}";
}

/// <summary>Thrown in strict mode at the first malformed line.</summary>
public sealed class MalformedLineException : IOException
{
    public MalformedLineException(long lineNumber, string reason)
        : base($"line {lineNumber}: {reason}")
    {
        LineNumber = lineNumber;
        Reason = reason;
    }

    /// <summary>1-based physical line number (empty lines and the header count).</summary>
    public long LineNumber { get; }

    public string Reason { get; }
}

/// <summary>Counts of what a reader has read so far, and the first malformed lines.</summary>
public sealed class ReaderStatistics
{
    private readonly List<MalformedLine> _firstMalformed = [];
    private readonly int _maxReported;

    internal ReaderStatistics(int maxReported) => _maxReported = maxReported;

    /// <summary>Lines returned as examples.</summary>
    public long GoodLines { get; private set; }

    /// <summary>Lines rejected (counted, reported and skipped).</summary>
    public long MalformedLines { get; private set; }

    /// <summary>Empty (or whitespace-only CR) lines, skipped without complaint.</summary>
    public long EmptyLines { get; private set; }

    /// <summary>The first <see cref="ReaderOptions.MaxReportedMalformed"/> malformed lines, in order.</summary>
    public IReadOnlyList<MalformedLine> FirstMalformed => _firstMalformed;

    internal bool WillReport => _firstMalformed.Count < _maxReported;

    internal void CountGood() => GoodLines++;

    internal void CountEmpty() => EmptyLines++;

    internal void CountMalformed() => MalformedLines++;

    internal void Add(long goodLines, long emptyLines)
    {
        GoodLines += goodLines;
        EmptyLines += emptyLines;
    }

    internal void Report(long lineNumber, string reason)
    {
        if (_firstMalformed.Count < _maxReported)
        {
            _firstMalformed.Add(new MalformedLine(lineNumber, reason));
        }
    }

    public override string ToString()
    {
        var text = new System.Text.StringBuilder();
        text.Append("good=").Append(GoodLines).Append(" malformed=").Append(MalformedLines).Append(" empty=").Append(EmptyLines);
        foreach (var line in _firstMalformed)
        {
            text.Append("\n  ").Append(line.ToString());
        }

        return text.ToString();
    }
}

/// <summary>
/// A streaming reader of labeled examples from a log, in constant memory. Each call to <see cref="TryRead"/>
/// fills the caller's reusable <see cref="Features.RawRow"/> with the next good line; malformed lines are
/// counted in <see cref="Statistics"/> and skipped (or throw <see cref="MalformedLineException"/> in strict mode).
/// </summary>
public interface IExampleReader : IDisposable
{
    /// <summary>
    /// Reads the next good example into <paramref name="row"/> (cleared first). Returns false at the end of the
    /// log. The row must have at least as many fields as the spec the reader was opened with.
    /// </summary>
    bool TryRead(Features.RawRow row);

    /// <summary>1-based physical line number of the last line read (0 before the first).</summary>
    long LineNumber { get; }

    ReaderStatistics Statistics { get; }

    /// <summary>
    /// The true click probability of the last example when the log carries it (AdCtr NDJSON's <c>trueCtr</c>,
    /// written by the simulator), for evaluation against the truth; null otherwise.
    /// </summary>
    double? TrueCtr { get; }
}
