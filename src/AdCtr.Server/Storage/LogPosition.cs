using System.Buffers.Binary;
using System.Globalization;

namespace AdCtr.Server.Storage;

/// <summary>
/// A position in the <see cref="ExampleLog"/>: the global byte offset of a record's header, counted from the
/// first byte ever written to the log. It only grows (retention deletes old segments but never renumbers),
/// each segment file is named after the position of its first byte, so a position finds its segment without
/// any index. A snapshot stores the position of the first record it does <em>not</em> include
/// (<see cref="LogRange.End"/> of the last append it applied) and replay resumes there.
/// </summary>
public readonly record struct LogPosition(long Value) : IComparable<LogPosition>, IComparable
{
    /// <summary>Bytes taken by <see cref="WriteTo"/>.</summary>
    public const int SerializedSize = 8;

    /// <summary>The start of the log.</summary>
    public static LogPosition Zero => default;

    /// <inheritdoc />
    public int CompareTo(LogPosition other) => Value.CompareTo(other.Value);

    /// <inheritdoc />
    public int CompareTo(object? obj) => obj switch
    {
        null => 1,
        LogPosition other => CompareTo(other),
        _ => throw new ArgumentException("Object is not a LogPosition.", nameof(obj)),
    };

    public static bool operator <(LogPosition left, LogPosition right) => left.Value < right.Value;

    public static bool operator >(LogPosition left, LogPosition right) => left.Value > right.Value;

    public static bool operator <=(LogPosition left, LogPosition right) => left.Value <= right.Value;

    public static bool operator >=(LogPosition left, LogPosition right) => left.Value >= right.Value;

    /// <summary>Writes the position as 8 bytes, little-endian.</summary>
    public void WriteTo(Span<byte> destination) => BinaryPrimitives.WriteInt64LittleEndian(destination, Value);

    /// <summary>Reads a position written by <see cref="WriteTo"/>.</summary>
    public static LogPosition ReadFrom(ReadOnlySpan<byte> source) => new(BinaryPrimitives.ReadInt64LittleEndian(source));

    /// <summary>Parses the decimal form written by <see cref="ToString"/>.</summary>
    public static LogPosition Parse(string text) => new(long.Parse(text, NumberStyles.None, CultureInfo.InvariantCulture));

    /// <summary>The position as a decimal number.</summary>
    public override string ToString() => Value.ToString(CultureInfo.InvariantCulture);
}

/// <summary>The records written by one append: <paramref name="Start"/> is the position of the first,
/// <paramref name="End"/> the position right after the last (where the next append starts).</summary>
public readonly record struct LogRange(LogPosition Start, LogPosition End, int Count);
