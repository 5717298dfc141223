using AdCtr.Learning.Features;

namespace AdCtr.Learning.Readers;

/// <summary>
/// A log read in blocks of consecutive lines, so that several threads can parse (and encode) it: one thread at a
/// time fills a block (<see cref="TryFill"/>: the lines are copied out of the reader's buffer, which is cheap), any
/// thread parses a filled block with its own <see cref="BlockLineParser"/>, and the consumer commits the blocks in
/// the order they were filled (<see cref="Commit"/>), which gives the same <see cref="Statistics"/>, malformed-line
/// reports and strict-mode exception as <see cref="IExampleReader.TryRead"/> on the same log. Only for formats whose
/// lines parse independently (no header, no state from line to line): Criteo TSV.
/// </summary>
public sealed class BlockExampleReader : IDisposable
{
    private readonly ExampleReaderBase _reader;
    private readonly LogFormat _format;
    private readonly FeatureSpec _spec;
    private readonly ReaderOptions _parserOptions;

    private BlockExampleReader(ExampleReaderBase reader, LogFormat format, FeatureSpec spec, ReaderOptions options)
    {
        _reader = reader;
        _format = format;
        _spec = spec;
        _parserOptions = new ReaderOptions
        {
            Strict = options.Strict,
            MaxReportedMalformed = options.MaxReportedMalformed,
            RejectUnknownMembers = options.RejectUnknownMembers,
            BufferBytes = 16,
            MaxLineBytes = 16,
            LeaveOpen = true,
        };
    }

    /// <summary>
    /// Opens <paramref name="path"/> (as <see cref="ExampleReaders.OpenFile"/>) for reading in blocks, or returns
    /// null when the format's lines cannot be parsed independently (then read it with an <see cref="IExampleReader"/>).
    /// </summary>
    public static BlockExampleReader? TryOpen(string path, LogFormat format, FeatureSpec spec, ReaderOptions? options = null) =>
        SupportsBlocks(format) ? Wrap(ExampleReaders.OpenFile(path, format, spec, options), format, spec, options) : null;

    /// <summary>As <see cref="TryOpen(string, LogFormat, FeatureSpec, ReaderOptions?)"/> over a stream (owned as by <see cref="ExampleReaders.Open"/>).</summary>
    public static BlockExampleReader? TryOpen(Stream stream, LogFormat format, FeatureSpec spec, ReaderOptions? options = null) =>
        SupportsBlocks(format) ? Wrap(ExampleReaders.Open(stream, format, spec, options), format, spec, options) : null;

    /// <summary>The formats whose lines parse independently: Criteo.</summary>
    public static bool SupportsBlocks(LogFormat format) => format == LogFormat.Criteo;

    private static BlockExampleReader Wrap(IExampleReader reader, LogFormat format, FeatureSpec spec, ReaderOptions? options)
    {
        if (reader is ExampleReaderBase { ParsesLinesIndependently: true } lines)
        {
            return new BlockExampleReader(lines, format, spec, options ?? ReaderOptions.Default);
        }

        reader.Dispose();
        throw new InvalidOperationException($"the {format} reader does not parse lines independently");
    }

    /// <summary>1-based number of the last line filled into a block (after the last block: the log's line count).</summary>
    public long LineNumber => _reader.LineNumber;

    /// <summary>The counts and reports of the blocks committed so far.</summary>
    public ReaderStatistics Statistics => _reader.Statistics;

    /// <summary>
    /// Fills <paramref name="block"/> with the next lines of the log; false at the end. Not thread-safe: the caller
    /// serializes the calls, and their order is the order of the lines.
    /// </summary>
    public bool TryFill(LineBlock block)
    {
        ArgumentNullException.ThrowIfNull(block);
        return _reader.FillBlock(block);
    }

    /// <summary>A parser for one thread (it owns scratch state).</summary>
    public BlockLineParser CreateParser() =>
        new((ExampleReaderBase)ExampleReaders.Open(Stream.Null, _format, _spec, _parserOptions));

    /// <summary>
    /// Counts a parsed block into <see cref="Statistics"/> and reports its malformed lines; in strict mode throws
    /// <see cref="MalformedLineException"/> at its first one. Call once per block, in the order of <see cref="TryFill"/>.
    /// </summary>
    public void Commit(LineBlock block)
    {
        ArgumentNullException.ThrowIfNull(block);
        _reader.Commit(block);
    }

    public void Dispose() => _reader.Dispose();
}

/// <summary>Parses the lines of a <see cref="LineBlock"/> into rows (one per thread; see <see cref="BlockExampleReader"/>).</summary>
public sealed class BlockLineParser
{
    private readonly ExampleReaderBase _parser;

    internal BlockLineParser(ExampleReaderBase parser) => _parser = parser;

    /// <summary>
    /// Parses line <paramref name="index"/> of <paramref name="block"/> into <paramref name="row"/> (cleared first);
    /// false when the line is malformed, which is recorded in the block for <see cref="BlockExampleReader.Commit"/>.
    /// </summary>
    public bool TryParse(LineBlock block, int index, RawRow row)
    {
        if (block.IsTooLong(index, out var limit))
        {
            block.AddMalformed(block.LineNumber(index), ExampleReaderBase.LineTooLongReason, null, limit);
            return false;
        }

        if (_parser.ParseDetached(block.Line(index), row))
        {
            block.GoodLines++;
            return true;
        }

        var (template, text, number) = _parser.LastReason;
        block.AddMalformed(block.LineNumber(index), template, text, number);
        return false;
    }
}

/// <summary>
/// Consecutive non-empty lines of a log, copied into one buffer, with their line numbers (a too-long line, which the
/// reader discarded, as a marker); plus what was skipped among them (the number of empty lines, the malformed lines). Reused: no allocation once its buffers have grown.
/// </summary>
public sealed class LineBlock
{
    private readonly int[] _starts;
    private readonly int[] _lengths;
    private readonly long[] _numbers;
    private byte[] _bytes;
    private int _used;
    private MalformedRecord[] _malformed = new MalformedRecord[4];
    private int _malformedCount;

    /// <summary>A block of at most <paramref name="maxLines"/> lines and about <paramref name="maxBytes"/> bytes (more for one long line).</summary>
    public LineBlock(int maxLines = 2048, int maxBytes = 1 << 19)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(maxLines, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(maxBytes, 16);
        _starts = new int[maxLines];
        _lengths = new int[maxLines];
        _numbers = new long[maxLines];
        _bytes = new byte[maxBytes];
        MaxBytes = maxBytes;
    }

    /// <summary>Number of lines to parse.</summary>
    public int Count { get; private set; }

    /// <summary>The byte budget: the block is full once its lines reach it (or <c>maxLines</c>).</summary>
    public int MaxBytes { get; }

    /// <summary>True when no line may be added.</summary>
    public bool IsFull => Count == _starts.Length || _used >= MaxBytes;

    internal bool IsEmpty => Count == 0 && EmptyLines == 0 && _malformedCount == 0;

    /// <summary>Lines parsed as examples (counted by the parser).</summary>
    internal long GoodLines { get; set; }

    /// <summary>Empty lines skipped while filling.</summary>
    internal long EmptyLines { get; set; }

    internal ReadOnlySpan<MalformedRecord> Malformed => _malformed.AsSpan(0, _malformedCount);

    /// <summary>Line <paramref name="index"/> (0-based, less than <see cref="Count"/>) without its line end.</summary>
    public ReadOnlySpan<byte> Line(int index) => _bytes.AsSpan(_starts[index], _lengths[index]);

    /// <summary>The 1-based physical line number of line <paramref name="index"/>.</summary>
    public long LineNumber(int index) => _numbers[index];

    internal void Clear()
    {
        Count = 0;
        _used = 0;
        GoodLines = 0;
        EmptyLines = 0;
        _malformedCount = 0;
    }

    internal void AddLine(ReadOnlySpan<byte> line, long number)
    {
        if (_used + line.Length > _bytes.Length)
        {
            Array.Resize(ref _bytes, Math.Max(_bytes.Length * 2, _used + line.Length));
        }

        line.CopyTo(_bytes.AsSpan(_used));
        _starts[Count] = _used;
        _lengths[Count] = line.Length;
        _numbers[Count] = number;
        _used += line.Length;
        Count++;
    }

    /// <summary>A line longer than <paramref name="limit"/> bytes, discarded by the reader: a marker in its place.</summary>
    internal void AddTooLong(long number, int limit)
    {
        _starts[Count] = limit;
        _lengths[Count] = -1;
        _numbers[Count] = number;
        Count++;
    }

    /// <summary>True when line <paramref name="index"/> is the marker of a too-long line; <paramref name="limit"/> is then the limit.</summary>
    internal bool IsTooLong(int index, out int limit)
    {
        limit = _starts[index];
        return _lengths[index] < 0;
    }

    /// <summary>Records a malformed line; in line order, since the parser takes a block's lines in order.</summary>
    internal void AddMalformed(long lineNumber, string template, string? text, long number)
    {
        if (_malformedCount == _malformed.Length)
        {
            Array.Resize(ref _malformed, _malformed.Length * 2);
        }

        _malformed[_malformedCount++] = new MalformedRecord(lineNumber, template, text, number);
    }

    /// <summary>A malformed line and its reason, not yet formatted (formatted only when reported or thrown).</summary>
    internal readonly record struct MalformedRecord(long LineNumber, string Template, string? Text, long Number);
}
