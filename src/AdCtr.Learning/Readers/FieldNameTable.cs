using System.Text;
using AdCtr.Learning.Features;
using AdCtr.Learning.Hashing;

namespace AdCtr.Learning.Readers;

/// <summary>
/// Spec field index by UTF-8 name, built once per reader: an open-addressing table of the names' hashes
/// (MurmurHash3, linear probing, at most half full), each hit verified byte for byte. No allocation per lookup.
/// </summary>
public sealed class FieldNameTable
{
    private const uint Seed = 0x7AB1E5;

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

            var slot = (int)MurmurHash3.Hash32(name, Seed) & _mask;
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
        var slot = (int)MurmurHash3.Hash32(name, Seed) & _mask;
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
}
