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
    private const string LineTooLongReason = "line longer than {0} bytes";

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

    private string FormatReason()
    {
        if (_reasonText is not null)
        {
            return string.Format(CultureInfo.InvariantCulture, _reasonTemplate, _reasonText);
        }

        return _reasonNumber == long.MinValue
            ? _reasonTemplate
            : string.Format(CultureInfo.InvariantCulture, _reasonTemplate, _reasonNumber);
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
