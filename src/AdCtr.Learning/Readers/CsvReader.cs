using System.Globalization;
using System.Text;
using AdCtr.Learning.Features;

namespace AdCtr.Learning.Readers;

/// <summary>
/// Any CSV log described by a feature spec (<see cref="LogFormat.Csv"/>). The first record is the header; the
/// spec's <see cref="FeatureSpec.Label"/> column is the label (<c>0</c>/<c>1</c> or <c>true</c>/<c>false</c>, any
/// case), its optional <see cref="FeatureSpec.Timestamp"/> column the time (ISO 8601, <c>yyyy-MM-dd HH:mm:ss</c>
/// taken as UTC, or Unix seconds), each spec field of kind categorical, count or numeric reads the column of its
/// name, and the derived fields (<see cref="FieldKind.HourOfDay"/>, <see cref="FieldKind.DayOfWeek"/>) come from
/// the timestamp. Other columns are ignored. Quoting follows RFC 4180: a field in double quotes may hold commas,
/// line breaks and doubled quotes; CRLF or LF ends a record. An empty value is a missing field.
/// <para>
/// A record is malformed (counted with the number of the line it starts on and skipped, or an error in strict
/// mode) when its number of columns differs from the header's, its label is missing or not one of the accepted
/// values, its timestamp is missing or unreadable (when the spec names one), a count is not an integer or a
/// numeric value not a number, or a quote is not closed. The header itself must be well formed: a missing
/// header, a duplicate column, or a spec column the header lacks is an <see cref="InvalidDataException"/>.
/// </para>
/// </summary>
internal sealed class CsvReader : IExampleReader
{
    private static readonly string[] WeekdayNames = ["sun", "mon", "tue", "wed", "thu", "fri", "sat"];
    private static readonly string[] HourNames = CreateHourNames();

    private readonly StreamReader _reader;
    private readonly FeatureSpec _spec;
    private readonly bool _strict;
    private readonly int _labelColumn;
    private readonly int _timestampColumn;
    private readonly int[] _fieldOfColumn;
    private readonly int[] _derivedFields;
    private readonly int _columns;
    private char[] _record = new char[1024];
    private int[] _start = new int[64];
    private int[] _length = new int[64];
    private int _count;
    private long _line;
    private long _nextLine = 1;
    private string _reason = string.Empty;

    public CsvReader(Stream stream, FeatureSpec spec, ReaderOptions options)
    {
        ArgumentNullException.ThrowIfNull(stream);
        ArgumentNullException.ThrowIfNull(spec);
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        _spec = spec;
        _strict = options.Strict;
        Statistics = new ReaderStatistics(options.MaxReportedMalformed);
        _reader = new StreamReader(stream, Encoding.UTF8, detectEncodingFromByteOrderMarks: true, bufferSize: 1 << 16, leaveOpen: options.LeaveOpen);
        if (spec.Label is null)
        {
            throw new InvalidDataException("CSV: the spec must name the label column (\"label\": \"COLUMN\")");
        }

        if (!NextRecord(out var ok) || !ok)
        {
            throw new InvalidDataException(ok ? "CSV: the log is empty, expected a header line" : "CSV header: " + _reason);
        }

        _columns = _count;
        var names = new Dictionary<string, int>(StringComparer.Ordinal);
        for (var c = 0; c < _count; c++)
        {
            var name = Field(c).Trim().ToString();
            if (!names.TryAdd(name, c))
            {
                throw new InvalidDataException($"CSV header: column '{name}' appears twice");
            }
        }

        _labelColumn = Column(names, spec.Label, "label");
        _timestampColumn = spec.Timestamp is null ? -1 : Column(names, spec.Timestamp, "timestamp");
        _fieldOfColumn = new int[_columns];
        Array.Fill(_fieldOfColumn, -1);
        var derived = new List<int>();
        for (var f = 0; f < spec.Fields.Length; f++)
        {
            var field = spec.Fields[f];
            if (field.Kind is FieldKind.HourOfDay or FieldKind.DayOfWeek)
            {
                if (_timestampColumn < 0)
                {
                    throw new InvalidDataException($"CSV: field '{field.Name}' is derived from the timestamp, but the spec names no \"timestamp\" column");
                }

                derived.Add(f);
                continue;
            }

            _fieldOfColumn[Column(names, field.Name, "field")] = f;
        }

        _derivedFields = [.. derived];
    }

    /// <summary>1-based physical line number where the last record read starts (the header is line 1).</summary>
    public long LineNumber => _line;

    public ReaderStatistics Statistics { get; }

    public double? TrueCtr => null;

    public bool TryRead(RawRow row)
    {
        ArgumentNullException.ThrowIfNull(row);
        if (row.FieldCount < _spec.Fields.Length)
        {
            throw new ArgumentException($"the row has {row.FieldCount} fields, the spec '{_spec.Name}' declares {_spec.Fields.Length}", nameof(row));
        }

        while (NextRecord(out var ok))
        {
            if (ok && _count == 1 && _length[0] == 0)
            {
                Statistics.CountEmpty();
                continue;
            }

            row.Clear();
            if (ok && Parse(row))
            {
                Statistics.CountGood();
                return true;
            }

            Statistics.CountMalformed();
            if (_strict)
            {
                throw new MalformedLineException(_line, _reason);
            }

            Statistics.Report(_line, _reason);
        }

        return false;
    }

    private bool Parse(RawRow row)
    {
        if (_count != _columns)
        {
            return Fail(string.Create(CultureInfo.InvariantCulture, $"expected {_columns} columns, got {_count}"));
        }

        var label = Field(_labelColumn).Trim();
        if (label.IsEmpty)
        {
            return Fail("missing label");
        }

        if (label is "1" || label.Equals("true", StringComparison.OrdinalIgnoreCase))
        {
            row.Label = 1;
        }
        else if (label is "0" || label.Equals("false", StringComparison.OrdinalIgnoreCase))
        {
            row.Label = 0;
        }
        else
        {
            return Fail("bad label '" + label.ToString() + "' (expected 0, 1, true or false)");
        }

        if (_timestampColumn >= 0)
        {
            var text = Field(_timestampColumn).Trim();
            if (text.IsEmpty)
            {
                return Fail("missing timestamp");
            }

            if (!TryParseTimestamp(text, out var time))
            {
                return Fail("bad timestamp '" + text.ToString() + "' (expected ISO 8601, yyyy-MM-dd HH:mm:ss or Unix seconds)");
            }

            row.TimestampMs = time.ToUnixTimeMilliseconds();
            foreach (var f in _derivedFields)
            {
                var utc = time.UtcDateTime;
                row.Set(f, (_spec.Fields[f].Kind == FieldKind.HourOfDay ? HourNames[utc.Hour] : WeekdayNames[(int)utc.DayOfWeek]).AsSpan());
            }
        }

        for (var c = 0; c < _columns; c++)
        {
            var f = _fieldOfColumn[c];
            if (f < 0)
            {
                continue;
            }

            var value = Field(c);
            if (value.IsEmpty)
            {
                continue;
            }

            var kind = _spec.Fields[f].Kind;
            if (kind == FieldKind.Count && !long.TryParse(value, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out _))
            {
                return Fail("bad count '" + value.ToString() + "' in column '" + _spec.Fields[f].Name + "'");
            }

            if (kind == FieldKind.Numeric && !(double.TryParse(value, NumberStyles.Float, CultureInfo.InvariantCulture, out var d) && double.IsFinite(d)))
            {
                return Fail("bad number '" + value.ToString() + "' in column '" + _spec.Fields[f].Name + "'");
            }

            row.Set(f, value);
        }

        return true;
    }

    /// <summary>ISO 8601 (with or without offset; none means UTC), <c>yyyy-MM-dd HH:mm:ss</c> (UTC), or Unix seconds.</summary>
    internal static bool TryParseTimestamp(ReadOnlySpan<char> text, out DateTimeOffset time)
    {
        var digits = true;
        foreach (var ch in text)
        {
            digits &= char.IsAsciiDigit(ch) || ch == '.' || ch == '-';
        }

        var unix = digits && (!text.Contains('-') || (text[0] == '-' && !text[1..].Contains('-')));
        if (unix)
        {
            if (double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out var seconds) && Math.Abs(seconds) < 253_402_300_799)
            {
                time = DateTimeOffset.FromUnixTimeMilliseconds((long)Math.Round(seconds * 1000));
                return true;
            }
        }

        const DateTimeStyles Utc = DateTimeStyles.AssumeUniversal | DateTimeStyles.AdjustToUniversal;
        if (DateTimeOffset.TryParseExact(text, "yyyy-MM-dd HH:mm:ss", CultureInfo.InvariantCulture, Utc, out time))
        {
            return true;
        }

        return text.Contains('T') && DateTimeOffset.TryParse(text, CultureInfo.InvariantCulture, Utc, out time);
    }

    private ReadOnlySpan<char> Field(int column) => _record.AsSpan(_start[column], _length[column]);

    private bool Fail(string reason)
    {
        _reason = reason;
        return false;
    }

    private static int Column(Dictionary<string, int> names, string name, string what) =>
        names.TryGetValue(name, out var c) ? c : throw new InvalidDataException($"CSV header: the spec's {what} column '{name}' is not in the header ({string.Join(',', names.Keys)})");

    /// <summary>
    /// Reads the next record into the field buffers. False at the end of the input; <paramref name="ok"/> false when
    /// the record is malformed (an unclosed quote, or text after a closing quote).
    /// </summary>
    private bool NextRecord(out bool ok)
    {
        ok = true;
        _count = 0;
        _line = _nextLine;
        var at = 0;
        var first = _reader.Peek();
        if (first < 0)
        {
            return false;
        }

        while (true)
        {
            // One field.
            var start = at;
            var ch = _reader.Read();
            if (ch == '"')
            {
                while (true)
                {
                    ch = _reader.Read();
                    if (ch < 0)
                    {
                        ok = Fail("unclosed quote");
                        AddField(start, at);
                        return true;
                    }

                    if (ch == '"')
                    {
                        if (_reader.Peek() == '"')
                        {
                            _reader.Read();
                            Append(ref at, '"');
                            continue;
                        }

                        break;
                    }

                    if (ch == '\n')
                    {
                        _nextLine++;
                    }

                    Append(ref at, (char)ch);
                }

                ch = _reader.Read();
                if (ch is not (',' or '\n' or '\r' or -1))
                {
                    ok = Fail("text after a closing quote");
                    while (ch is not ('\n' or -1))
                    {
                        ch = _reader.Read();
                    }
                }
            }
            else
            {
                while (ch is not (',' or '\n' or '\r' or -1))
                {
                    Append(ref at, (char)ch);
                    ch = _reader.Read();
                }
            }

            AddField(start, at);
            if (ch == ',')
            {
                continue;
            }

            if (ch == '\r' && _reader.Peek() == '\n')
            {
                _reader.Read();
            }

            if (ch is '\n' or '\r')
            {
                _nextLine++;
            }

            return true;
        }
    }

    private void Append(ref int at, char ch)
    {
        if (at == _record.Length)
        {
            Array.Resize(ref _record, _record.Length * 2);
        }

        _record[at++] = ch;
    }

    private void AddField(int start, int end)
    {
        if (_count == _start.Length)
        {
            Array.Resize(ref _start, _count * 2);
            Array.Resize(ref _length, _count * 2);
        }

        _start[_count] = start;
        _length[_count++] = end - start;
    }

    private static string[] CreateHourNames()
    {
        var names = new string[24];
        for (var h = 0; h < 24; h++)
        {
            names[h] = h.ToString("00", CultureInfo.InvariantCulture);
        }

        return names;
    }

    public void Dispose() => _reader.Dispose();
}
