using System.Buffers.Binary;
using System.Runtime.CompilerServices;
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
    private readonly int[] _tabs = new int[ColumnCount];

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

    /// <summary>No header and nothing carried between lines: lines can be parsed on several threads.</summary>
    internal override bool ParsesLinesIndependently => true;

    /// <summary>The Criteo column names in file order (label first).</summary>
    public static string ColumnName(int column) =>
        column == 0 ? "label" : column <= IntegerColumns ? "I" + column : "C" + (column - IntegerColumns);

    protected override bool ParseLine(ReadOnlySpan<byte> line, RawRow row)
    {
        var tabs = _tabs;
        var separators = Separators.Find(line, (byte)'\t', tabs);
        if (separators != ColumnCount - 1)
        {
            return Fail("expected 40 tab-separated columns, got {0}", separators + 1);
        }

        var label = tabs[0];
        if (label != 1 || (line[0] != (byte)'0' && line[0] != (byte)'1'))
        {
            return Fail("label is not 0 or 1");
        }

        row.Label = line[0] - '0';
        var lineStart = row.CopyLine(line);
        var fieldOfColumn = _fieldOfColumn;
        for (var column = 1; column < ColumnCount; column++)
        {
            var start = tabs[column - 1] + 1;
            var end = column < ColumnCount - 1 ? tabs[column] : line.Length;
            if (end == start)
            {
                continue; // empty: missing
            }

            if (column <= IntegerColumns && !IsIntegerAt(line, start, end))
            {
                return Fail(IntegerReasons[column]);
            }

            var field = fieldOfColumn[column];
            if (field >= 0)
            {
                row.SetSlice(field, lineStart + start, end - start);
            }
        }

        return true;
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

    /// <summary>
    /// <see cref="IsInteger"/> of <c>line[start..end]</c> (not empty). Values of up to 8 bytes with 8 bytes of
    /// the line from <paramref name="start"/> are checked in one 64-bit word, without a loop whose exit
    /// branch mispredicts on every short count: the bytes past the value are replaced by '0', a leading minus
    /// by '0', then all eight bytes are tested for 0x30..0x39 at once (Lemire, "Quickly identifying a sequence
    /// of digits in a string of characters", 2018: <c>is_made_of_eight_digits_fast</c>).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static bool IsIntegerAt(ReadOnlySpan<byte> line, int start, int end)
    {
        var length = end - start;
        if (length > 8 || line.Length - start < 8)
        {
            return IsInteger(line[start..end]);
        }

        const ulong Zeros = 0x3030303030303030UL;
        var word = BinaryPrimitives.ReadUInt64LittleEndian(line[start..]);
        if ((byte)word == (byte)'-')
        {
            if (length == 1)
            {
                return false;
            }

            word = (word & ~0xFFUL) | 0x30UL;
        }

        var keep = ulong.MaxValue >> ((8 - length) * 8);
        word = (word & keep) | (Zeros & ~keep);
        const ulong HighNibbles = 0xF0F0F0F0F0F0F0F0UL;
        return ((word & HighNibbles) | (((word + 0x0606060606060606UL) & HighNibbles) >> 4)) == 0x3333333333333333UL;
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
