using System.Buffers.Binary;
using System.Text;
using AdCtr.Learning.Features;

namespace AdCtr.Learning.Readers;

/// <summary>
/// Avazu CTR prediction CSV (Kaggle 2014). The header line names the columns
/// (<c>id,click,hour,C1,banner_pos,site_id,...,C21</c>); every column maps by name to the spec field of that
/// name, or is ignored. <c>click</c> is the label (0 or 1) and never a feature. <c>hour</c> is YYMMDDHH in UTC
/// (14102100 = 2014-10-21 00:00) and sets <see cref="RawRow.TimestampMs"/>; it is also a feature when the spec
/// declares <c>hour</c>. When the spec declares them, the derived fields <c>hour_of_day</c> (<c>00</c>..<c>23</c>)
/// and <c>weekday</c> (<c>mon</c>..<c>sun</c>) are filled from it. Values are taken as they are: no quoting.
/// </summary>
internal sealed class AvazuReader : ExampleReaderBase
{
    public const string LabelColumn = "click";
    public const string HourColumn = "hour";
    public const string HourOfDayField = "hour_of_day";
    public const string WeekdayField = "weekday";

    private static readonly byte[][] WeekdayNames =
    [
        "sun"u8.ToArray(), "mon"u8.ToArray(), "tue"u8.ToArray(), "wed"u8.ToArray(),
        "thu"u8.ToArray(), "fri"u8.ToArray(), "sat"u8.ToArray(),
    ];

    private readonly int[] _fieldOfColumn;
    private readonly int _labelColumn;
    private readonly int _hourColumn;
    private readonly int _hourOfDayField;
    private readonly int _weekdayField;
    private readonly string _columnCountReason;
    private readonly int[] _commas; // one per column but the last

    // The last hour parsed: consecutive rows share their hour, so it is parsed once per hour of data.
    private ulong _cachedHour;
    private long _cachedTimestampMs;
    private int _cachedWeekday = -1;

    public AvazuReader(Stream stream, FeatureSpec spec, ReaderOptions options)
        : base(stream, spec, options)
    {
        if (!TryReadRawLine(out var header))
        {
            throw new InvalidDataException("Avazu CSV: the log is empty, expected a header line");
        }

        var names = Encoding.UTF8.GetString(header).Split(',');
        Columns = names;
        _fieldOfColumn = new int[names.Length];
        _labelColumn = -1;
        _hourColumn = -1;
        var seen = new HashSet<string>(StringComparer.Ordinal);
        for (var i = 0; i < names.Length; i++)
        {
            var name = names[i] = names[i].Trim();
            if (!seen.Add(name))
            {
                throw new InvalidDataException($"Avazu CSV header: column '{name}' appears twice");
            }

            if (name == LabelColumn)
            {
                _labelColumn = i;
            }
            else if (name == HourColumn)
            {
                _hourColumn = i;
            }

            _fieldOfColumn[i] = name == LabelColumn ? -1 : spec.IndexOf(name);
        }

        if (_labelColumn < 0 || _hourColumn < 0)
        {
            throw new InvalidDataException($"Avazu CSV header must name the columns '{LabelColumn}' and '{HourColumn}', got: {string.Join(',', names)}");
        }

        _commas = new int[names.Length - 1];
        _columnCountReason = "expected " + names.Length + " comma-separated columns, got {0}";
        _hourOfDayField = spec.IndexOf(HourOfDayField);
        _weekdayField = spec.IndexOf(WeekdayField);
    }

    /// <summary>The column names of the header, in file order.</summary>
    public IReadOnlyList<string> Columns { get; }

    protected override bool ParseLine(ReadOnlySpan<byte> line, RawRow row)
    {
        var commas = _commas;
        var separators = Separators.Find(line, (byte)',', commas);
        if (separators != commas.Length)
        {
            return Fail(_columnCountReason, separators + 1);
        }

        var fieldOfColumn = _fieldOfColumn;
        var start = 0;
        for (var column = 0; column < fieldOfColumn.Length; column++)
        {
            var end = column < commas.Length ? commas[column] : line.Length;
            var value = line[start..end];
            start = end + 1;
            if (column == _labelColumn)
            {
                if (value.Length != 1 || (value[0] != (byte)'0' && value[0] != (byte)'1'))
                {
                    return Fail("click is not 0 or 1");
                }

                row.Label = value[0] - '0';
            }
            else if (column == _hourColumn && !SetHour(value, row))
            {
                return Fail("hour is not a valid YYMMDDHH");
            }

            var field = fieldOfColumn[column];
            if (field >= 0 && !value.IsEmpty)
            {
                row.Set(field, value);
            }
        }

        return true;
    }

    private bool SetHour(ReadOnlySpan<byte> value, RawRow row)
    {
        if (value.Length != 8)
        {
            return false;
        }

        var key = BinaryPrimitives.ReadUInt64LittleEndian(value);
        if (key != _cachedHour || _cachedWeekday < 0)
        {
            if (!TryParseHour(value, out var timestampMs, out var weekday))
            {
                return false;
            }

            _cachedHour = key;
            _cachedTimestampMs = timestampMs;
            _cachedWeekday = weekday;
        }

        row.TimestampMs = _cachedTimestampMs;
        if (_hourOfDayField >= 0)
        {
            row.Set(_hourOfDayField, value[6..8]);
        }

        if (_weekdayField >= 0)
        {
            row.Set(_weekdayField, WeekdayNames[_cachedWeekday]);
        }

        return true;
    }

    /// <summary>Parses YYMMDDHH (years 2000..2099, UTC) to Unix milliseconds and the day of the week (0 = Sunday).</summary>
    internal static bool TryParseHour(ReadOnlySpan<byte> value, out long timestampMs, out int weekday)
    {
        timestampMs = 0;
        weekday = -1;
        if (value.Length != 8)
        {
            return false;
        }

        foreach (var b in value)
        {
            if ((uint)(b - '0') > 9)
            {
                return false;
            }
        }

        var year = 2000 + TwoDigits(value, 0);
        var month = TwoDigits(value, 2);
        var day = TwoDigits(value, 4);
        var hour = TwoDigits(value, 6);
        if (month is < 1 or > 12 || day < 1 || day > DateTime.DaysInMonth(year, month) || hour > 23)
        {
            return false;
        }

        var time = new DateTime(year, month, day, hour, 0, 0, DateTimeKind.Utc);
        timestampMs = (time - DateTime.UnixEpoch).Ticks / TimeSpan.TicksPerMillisecond;
        weekday = (int)time.DayOfWeek;
        return true;
    }

    private static int TwoDigits(ReadOnlySpan<byte> value, int at) => ((value[at] - '0') * 10) + (value[at + 1] - '0');
}
