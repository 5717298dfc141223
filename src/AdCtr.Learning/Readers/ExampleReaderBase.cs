using System.Diagnostics.CodeAnalysis;
using System.Globalization;
using AdCtr.Learning.Features;

namespace AdCtr.Learning.Readers;

/// <summary>
/// The loop shared by every format: next line, skip it if empty, clear the row, parse; count good lines,
/// count and report malformed ones (or throw in strict mode). A format implements <see cref="ParseLine"/>
/// and reports a failure with <see cref="Fail(string)"/>; the reason text is formatted only when it is kept
/// (the first few malformed lines) or thrown, so a file full of damage costs no allocation per line.
/// </summary>
internal abstract class ExampleReaderBase : IExampleReader
{
    internal const string LineTooLongReason = "line longer than {0} bytes";

    private readonly LineReader _lines;
    private readonly bool _strict;
    private readonly int _maxLineBytes;
    private string _reasonTemplate = "";
    private long _reasonNumber;
    private string? _reasonText;

    protected ExampleReaderBase(Stream stream, FeatureSpec spec, ReaderOptions options)
    {
        ArgumentNullException.ThrowIfNull(stream);
        ArgumentNullException.ThrowIfNull(spec);
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        Spec = spec;
        _strict = options.Strict;
        _maxLineBytes = options.MaxLineBytes;
        _lines = new LineReader(stream, options.BufferBytes, options.MaxLineBytes, options.LeaveOpen);
        Statistics = new ReaderStatistics(options.MaxReportedMalformed);
    }

    public FeatureSpec Spec { get; }

    public long LineNumber => _lines.LineNumber;

    public ReaderStatistics Statistics { get; }

    public virtual double? TrueCtr => null;

    public bool TryRead(RawRow row)
    {
        ArgumentNullException.ThrowIfNull(row);
        if (row.FieldCount < Spec.Fields.Length)
        {
            ThrowRowTooSmall(row.FieldCount);
        }

        while (true)
        {
            var result = _lines.Next(out var line);
            if (result == LineResult.End)
            {
                return false;
            }

            if (result == LineResult.TooLong)
            {
                Fail(LineTooLongReason, _maxLineBytes);
                Malformed();
                continue;
            }

            if (line.IsEmpty)
            {
                Statistics.CountEmpty();
                continue;
            }

            row.Clear();
            if (ParseLine(line, row))
            {
                Statistics.CountGood();
                return true;
            }

            Malformed();
        }
    }

    /// <summary>Reads the next non-empty line without parsing it (a header); false at the end of the log.</summary>
    protected bool TryReadRawLine(out ReadOnlySpan<byte> line)
    {
        while (true)
        {
            var result = _lines.Next(out line);
            switch (result)
            {
                case LineResult.End:
                    return false;
                case LineResult.TooLong:
                    throw new InvalidDataException($"line {_lines.LineNumber}: line longer than {_maxLineBytes} bytes");
                default:
                    if (!line.IsEmpty)
                    {
                        return true;
                    }

                    Statistics.CountEmpty();
                    break;
            }
        }
    }

    /// <summary>Parses one non-empty line into the cleared row; on failure calls <see cref="Fail(string)"/>.</summary>
    protected abstract bool ParseLine(ReadOnlySpan<byte> line, RawRow row);

    /// <summary>
    /// True when <see cref="ParseLine"/> depends on nothing but the line and the spec (no header, no state carried
    /// from line to line), so that lines may be parsed on several threads, each with its own instance
    /// (<see cref="BlockExampleReader"/>).
    /// </summary>
    internal virtual bool ParsesLinesIndependently => false;

    /// <summary>Clears <paramref name="row"/> and parses <paramref name="line"/> into it, outside the reading loop.</summary>
    internal bool ParseDetached(ReadOnlySpan<byte> line, RawRow row)
    {
        row.Clear();
        return ParseLine(line, row);
    }

    /// <summary>Why the last <see cref="ParseDetached"/> failed, unformatted (see <see cref="FormatReason(string, string?, long)"/>).</summary>
    internal (string Template, string? Text, long Number) LastReason => (_reasonTemplate, _reasonText, _reasonNumber);

    /// <summary>
    /// Fills <paramref name="block"/> (cleared first) with the next lines, copied out of the line buffer, up to its
    /// capacity: empty lines are counted in the block, a too-long line is kept as a marker that the parser reports as malformed. False at the end of the
    /// log, when nothing was added.
    /// </summary>
    internal bool FillBlock(LineBlock block)
    {
        block.Clear();
        while (!block.IsFull)
        {
            var result = _lines.Next(out var line);
            if (result == LineResult.End)
            {
                break;
            }

            if (result == LineResult.TooLong)
            {
                block.AddTooLong(_lines.LineNumber, _maxLineBytes);
            }
            else if (line.IsEmpty)
            {
                block.EmptyLines++;
            }
            else
            {
                block.AddLine(line, _lines.LineNumber);
            }
        }

        return !block.IsEmpty;
    }

    /// <summary>
    /// Adds a parsed block's counts to <see cref="Statistics"/> and reports its malformed lines, as
    /// <see cref="TryRead"/> would have on the same lines; in strict mode throws at its first malformed line.
    /// Blocks must be committed in the order they were filled.
    /// </summary>
    internal void Commit(LineBlock block)
    {
        Statistics.Add(block.GoodLines, block.EmptyLines);
        foreach (ref readonly var m in block.Malformed)
        {
            Statistics.CountMalformed();
            if (_strict)
            {
                throw new MalformedLineException(m.LineNumber, FormatReason(m.Template, m.Text, m.Number));
            }

            if (Statistics.WillReport)
            {
                Statistics.Report(m.LineNumber, FormatReason(m.Template, m.Text, m.Number));
            }
        }
    }

    /// <summary>Records why the line is malformed; returns false for <c>return Fail(...)</c>.</summary>
    protected bool Fail(string reason)
    {
        _reasonTemplate = reason;
        _reasonText = null;
        _reasonNumber = long.MinValue;
        return false;
    }

    /// <summary>As <see cref="Fail(string)"/>, with a number for the <c>{0}</c> of the template.</summary>
    protected bool Fail(string template, long number)
    {
        _reasonTemplate = template;
        _reasonText = null;
        _reasonNumber = number;
        return false;
    }

    /// <summary>As <see cref="Fail(string)"/>, with a text for the <c>{0}</c> of the template.</summary>
    protected bool Fail(string template, string text)
    {
        _reasonTemplate = template;
        _reasonText = text;
        _reasonNumber = long.MinValue;
        return false;
    }

    private void Malformed()
    {
        Statistics.CountMalformed();
        if (_strict)
        {
            throw new MalformedLineException(_lines.LineNumber, FormatReason());
        }

        if (Statistics.WillReport)
        {
            Statistics.Report(_lines.LineNumber, FormatReason());
        }
    }

    private string FormatReason() => FormatReason(_reasonTemplate, _reasonText, _reasonNumber);

    private static string FormatReason(string template, string? text, long number)
    {
        if (text is not null)
        {
            return string.Format(CultureInfo.InvariantCulture, template, text);
        }

        return number == long.MinValue
            ? template
            : string.Format(CultureInfo.InvariantCulture, template, number);
    }

    [DoesNotReturn]
    private void ThrowRowTooSmall(int fieldCount) =>
        throw new ArgumentException($"the row has {fieldCount} fields, the spec '{Spec.Name}' declares {Spec.Fields.Length}", "row");

    public void Dispose()
    {
        Dispose(true);
        GC.SuppressFinalize(this);
    }

    protected virtual void Dispose(bool disposing)
    {
        if (disposing)
        {
            _lines.Dispose();
        }
    }
}
