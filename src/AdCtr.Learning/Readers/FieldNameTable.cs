using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Text;
using AdCtr.Learning.Features;

namespace AdCtr.Learning.Readers;

/// <summary>
/// Spec field index by UTF-8 name, built once per reader: an open-addressing table of the names' hashes
/// (linear probing, at most half full), each hit verified byte for byte. No allocation per lookup.
/// </summary>
/// <remarks>
/// The hash reads the name's length and its first and last 8 bytes (4, or 3 single bytes, for shorter names) in
/// two multiplications: every property name of every example line is looked up here (about 16 per line), and
/// MurmurHash3 over the whole name was 4 % of the server's ingestion CPU in a profile. Names that share those
/// bytes only probe further; the byte-for-byte check keeps every answer exact.
/// </remarks>
public sealed class FieldNameTable
{
    private readonly byte[][] _names;
    private readonly int[] _slots; // field index + 1; 0 = empty
    private readonly int _mask;

    public FieldNameTable(FeatureSpec spec)
    {
        var fields = spec.Fields;
        _names = new byte[fields.Length][];
        var size = 8;
        while (size < fields.Length * 2)
        {
            size *= 2;
        }

        _slots = new int[size];
        _mask = size - 1;
        for (var i = 0; i < fields.Length; i++)
        {
            var name = Encoding.UTF8.GetBytes(fields[i].Name);
            _names[i] = name;
            if (Find(name) >= 0)
            {
                continue; // a duplicate name (an unvalidated spec): the first declaration wins, as in FeatureSpec.IndexOf
            }

            var slot = (int)Hash(name) & _mask;
            while (_slots[slot] != 0)
            {
                slot = (slot + 1) & _mask;
            }

            _slots[slot] = i + 1;
        }
    }

    /// <summary>The index of the field with this UTF-8 name, or -1.</summary>
    public int Find(ReadOnlySpan<byte> name)
    {
        var slot = (int)Hash(name) & _mask;
        while (true)
        {
            var entry = _slots[slot];
            if (entry == 0)
            {
                return -1;
            }

            if (name.SequenceEqual(_names[entry - 1]))
            {
                return entry - 1;
            }

            slot = (slot + 1) & _mask;
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static uint Hash(ReadOnlySpan<byte> name)
    {
        ref var b = ref MemoryMarshal.GetReference(name);
        var n = name.Length;
        ulong first, last;
        if (n >= 8)
        {
            first = Unsafe.ReadUnaligned<ulong>(ref b);
            last = Unsafe.ReadUnaligned<ulong>(ref Unsafe.Add(ref b, n - 8));
        }
        else if (n >= 4)
        {
            first = Unsafe.ReadUnaligned<uint>(ref b);
            last = Unsafe.ReadUnaligned<uint>(ref Unsafe.Add(ref b, n - 4));
        }
        else if (n > 0)
        {
            first = b | ((ulong)Unsafe.Add(ref b, n >> 1) << 8) | ((ulong)Unsafe.Add(ref b, n - 1) << 16);
            last = 0;
        }
        else
        {
            first = last = 0;
        }

        var h = (first * 0x9E3779B97F4A7C15UL) ^ ((last + (ulong)n) * 0xC2B2AE3D27D4EB4FUL);
        return (uint)(h >> 32) ^ (uint)h;
    }
}
