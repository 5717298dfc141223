using System.Runtime.CompilerServices;
using System.Text;

namespace AdCtr.Learning.Features;

/// <summary>
/// One example before encoding: the UTF-8 bytes of each field's value, indexed like
/// <see cref="FeatureSpec.Fields"/>, plus label, importance weight and time. Reused across rows by readers
/// and request handlers: <see cref="Clear"/> then <see cref="Set(int, ReadOnlySpan{byte})"/>; no allocation
/// once the buffer has grown to the largest row.
/// </summary>
public sealed class RawRow
{
    private readonly int[] _start;
    private readonly int[] _length;
    private byte[] _buffer;
    private int _used;

    public RawRow(int fieldCount, int initialBytes = 1024)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(fieldCount);
        _start = new int[fieldCount];
        _length = new int[fieldCount];
        _buffer = new byte[Math.Max(16, initialBytes)];
        Clear();
    }

    public int FieldCount => _start.Length;

    /// <summary>Label, 0 or 1.</summary>
    public float Label { get; set; }

    /// <summary>Importance weight of the example (1/r for a negative kept at downsampling rate r).</summary>
    public float Weight { get; set; } = 1f;

    /// <summary>Example time in Unix milliseconds, or 0 when unknown.</summary>
    public long TimestampMs { get; set; }

    /// <summary>Marks every field missing and resets label, weight and time.</summary>
    public void Clear()
    {
        _length.AsSpan().Fill(-1);
        _used = 0;
        Label = 0;
        Weight = 1f;
        TimestampMs = 0;
    }

    /// <summary>Marks one field missing.</summary>
    public void SetMissing(int field) => _length[field] = -1;

    public void Set(int field, ReadOnlySpan<byte> utf8)
    {
        var start = Reserve(utf8.Length);
        utf8.CopyTo(_buffer.AsSpan(start));
        _start[field] = start;
        _length[field] = utf8.Length;
    }

    /// <summary>
    /// Copies a whole line into the row's buffer and returns where it starts, for a reader that then points
    /// fields into it with <see cref="SetSlice"/>: one copy per line instead of one per field.
    /// </summary>
    internal int CopyLine(ReadOnlySpan<byte> line)
    {
        var start = Reserve(line.Length);
        line.CopyTo(_buffer.AsSpan(start));
        return start;
    }

    /// <summary>Points a field at <paramref name="length"/> bytes of the buffer from <paramref name="start"/> (see <see cref="CopyLine"/>).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal void SetSlice(int field, int start, int length)
    {
        _start[field] = start;
        _length[field] = length;
    }

    public void Set(int field, ReadOnlySpan<char> value)
    {
        var max = Encoding.UTF8.GetMaxByteCount(value.Length);
        var start = Reserve(max);
        var written = Encoding.UTF8.GetBytes(value, _buffer.AsSpan(start));
        _used = start + written;
        _start[field] = start;
        _length[field] = written;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public bool IsPresent(int field) => _length[field] >= 0;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public ReadOnlySpan<byte> Get(int field)
    {
        var length = _length[field];
        return length < 0 ? default : _buffer.AsSpan(_start[field], length);
    }

    /// <summary>The value as a string (for diagnostics and explain, not for hot paths).</summary>
    public string? GetString(int field) => IsPresent(field) ? Encoding.UTF8.GetString(Get(field)) : null;

    private int Reserve(int bytes)
    {
        var start = _used;
        if (start + bytes > _buffer.Length)
        {
            Array.Resize(ref _buffer, Math.Max(_buffer.Length * 2, start + bytes));
        }

        _used = start + bytes;
        return start;
    }
}
