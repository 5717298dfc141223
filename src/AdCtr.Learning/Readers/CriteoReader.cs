using AdCtr.Learning.Features;

namespace AdCtr.Learning.Readers;

/// <summary>
/// Criteo Display Advertising Challenge TSV (Kaggle 2014): <c>label \t I1..I13 \t C1..C26</c>, 40 columns,
/// no header. The label is 0 or 1; I1..I13 are integer counts (possibly negative), C1..C26 hashed
/// categoricals (8 hex digits); an empty column is a missing value and is left missing in the row. Columns
/// map to the spec fields named <c>I1</c>..<c>I13</c>, <c>C1</c>..<c>C26</c>; a column without a field is
/// ignored (but still checked). No timestamp: <see cref="RawRow.TimestampMs"/> stays 0.
/// </summary>
internal sealed class CriteoReader : ExampleReaderBase
{
    public const int ColumnCount = 40;
    public const int IntegerColumns = 13;

    /// <summary>At most this many digits, so every accepted integer fits a long.</summary>
    private const int MaxDigits = 18;

    private readonly int[] _fieldOfColumn = new int[ColumnCount];

    public CriteoReader(Stream stream, FeatureSpec spec, ReaderOptions options)
        : base(stream, spec, options)
    {
        _fieldOfColumn[0] = -1;
        for (var i = 1; i <= IntegerColumns; i++)
        {
            _fieldOfColumn[i] = spec.IndexOf("I" + i);
        }

        for (var i = IntegerColumns + 1; i < ColumnCount; i++)
        {
            _fieldOfColumn[i] = spec.IndexOf("C" + (i - IntegerColumns));
        }
    }

    /// <summary>The Criteo column names in file order (label first).</summary>
    public static string ColumnName(int column) =>
        column == 0 ? "label" : column <= IntegerColumns ? "I" + column : "C" + (column - IntegerColumns);

    protected override bool ParseLine(ReadOnlySpan<byte> line, RawRow row)
    {
        var fieldOfColumn = _fieldOfColumn;
        var rest = line;
        var column = 0;
        while (true)
        {
            var tab = rest.IndexOf((byte)'\t');
            var value = tab < 0 ? rest : rest[..tab];
            if (column == 0)
            {
                if (value.Length != 1 || (value[0] != (byte)'0' && value[0] != (byte)'1'))
                {
                    return Fail("label is not 0 or 1");
                }

                row.Label = value[0] - '0';
            }
            else if (column < ColumnCount && !value.IsEmpty)
            {
                if (column <= IntegerColumns && !IsInteger(value))
                {
                    return Fail(IntegerReasons[column]);
                }

                var field = fieldOfColumn[column];
                if (field >= 0)
                {
                    row.Set(field, value);
                }
            }

            column++;
            if (tab < 0)
            {
                break;
            }

            rest = rest[(tab + 1)..];
        }

        return column == ColumnCount || Fail("expected 40 tab-separated columns, got {0}", column);
    }

    private static readonly string[] IntegerReasons = BuildIntegerReasons();

    private static string[] BuildIntegerReasons()
    {
        var reasons = new string[IntegerColumns + 1];
        for (var i = 1; i <= IntegerColumns; i++)
        {
            reasons[i] = "column I" + i + " is not an integer";
        }

        return reasons;
    }

    /// <summary>An optional minus sign then 1 to 18 ASCII digits.</summary>
    internal static bool IsInteger(ReadOnlySpan<byte> value)
    {
        if (value[0] == (byte)'-')
        {
            value = value[1..];
        }

        if (value.IsEmpty || value.Length > MaxDigits)
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

        return true;
    }
}
