using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace AdCtr.Learning.Ftrl;

/// <summary>
/// FTRL-Proximal that stores only the coordinates it has seen, in an open-addressing table (linear
/// probing over 12-byte slots of (key, z, n), so a probe that finds its key has the coordinate's state in
/// the same cache line) that doubles when 70% full. Used for the
/// small per-campaign models. New coordinates may be admitted with a probability &lt; 1 ("Poisson
/// inclusion", McMahan et al. 2013 section 4.1) to keep rare features out; off (1.0) by default.
/// One writer at a time (the owning grain's turn); readers may run concurrently: a resize publishes a new
/// table atomically, and within a table a value is written before its key.
/// </summary>
public sealed class SparseFtrlModel : IFtrlModel
{
    private const int Empty = -1;
    private const float MaxLoad = 0.7f;

    private readonly FtrlMath _math;
    private readonly float _admission;
    private Table _table;
    private ulong _rng;

    public SparseFtrlModel(FtrlParameters parameters, int initialCapacity = 16, double admissionProbability = 1.0, ulong seed = 0x9E3779B97F4A7C15)
    {
        if (!(admissionProbability > 0 && admissionProbability <= 1))
        {
            throw new ArgumentOutOfRangeException(nameof(admissionProbability), admissionProbability, "must be in (0, 1]");
        }

        Parameters = parameters;
        _math = new FtrlMath(parameters);
        _admission = (float)admissionProbability;
        _table = new Table((int)BitOperations.RoundUpToPowerOf2((uint)Math.Max(8, initialCapacity)));
        _rng = seed == 0 ? 1 : seed;
    }

    public FtrlParameters Parameters { get; }

    public double AdmissionProbability => _admission;

    public long Coordinates => Volatile.Read(ref _table).Count;

    /// <summary>Capacity of the current table (slots).</summary>
    public int Capacity => Volatile.Read(ref _table).Slots.Length;

    public long MemoryBytes
    {
        get
        {
            var t = Volatile.Read(ref _table);
            return (long)t.Slots.Length * Unsafe.SizeOf<Slot>();
        }
    }

    /// <summary>Coordinates not admitted so far (see Poisson inclusion).</summary>
    public long Rejected { get; private set; }

    public double Dot(ReadOnlySpan<int> indices, ReadOnlySpan<float> values, Span<float> weights)
    {
        var t = Volatile.Read(ref _table);
        var sum = 0.0;
        for (var k = 0; k < indices.Length; k++)
        {
            var slot = t.Find(indices[k]);
            var w = 0f;
            if (slot >= 0)
            {
                ref var s = ref t.Slots[slot];
                w = _math.Weight(s.Z, s.N);
            }

            weights[k] = w;
            sum += w * values[k];
        }

        return sum;
    }

    public double Dot(ReadOnlySpan<int> indices, ReadOnlySpan<float> values)
    {
        var t = Volatile.Read(ref _table);
        var sum = 0.0;
        for (var k = 0; k < indices.Length; k++)
        {
            var slot = t.Find(indices[k]);
            if (slot >= 0)
            {
                ref var s = ref t.Slots[slot];
                sum += _math.Weight(s.Z, s.N) * values[k];
            }
        }

        return sum;
    }

    public void Update(ReadOnlySpan<int> indices, ReadOnlySpan<float> values, ReadOnlySpan<float> weights, float gradientScale)
    {
        for (var k = 0; k < indices.Length; k++)
        {
            var key = indices[k];
            var t = _table;
            var slot = t.Find(key);
            if (slot < 0)
            {
                if (_admission < 1f && NextUnit() >= _admission)
                {
                    Rejected++;
                    continue;
                }

                slot = Insert(key, 0f, 0f);
                t = _table;
            }

            ref var s = ref t.Slots[slot];
            _math.Update(ref s.Z, ref s.N, gradientScale * values[k], weights[k]);
        }
    }

    public float WeightOf(int index)
    {
        var t = Volatile.Read(ref _table);
        var slot = t.Find(index);
        return slot < 0 ? 0f : _math.Weight(t.Slots[slot].Z, t.Slots[slot].N);
    }

    public bool TryGetState(int index, out float z, out float n)
    {
        var t = Volatile.Read(ref _table);
        var slot = t.Find(index);
        if (slot < 0)
        {
            z = 0;
            n = 0;
            return false;
        }

        z = t.Slots[slot].Z;
        n = t.Slots[slot].N;
        return true;
    }

    /// <summary>Sets the state of a coordinate (snapshot loading). Index must be &gt;= 0.</summary>
    public void SetState(int index, float z, float n)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(index);
        var slot = _table.Find(index);
        if (slot < 0)
        {
            Insert(index, z, n);
            return;
        }

        ref var s = ref _table.Slots[slot];
        s.Z = z;
        s.N = n;
    }

    /// <summary>Enumerates (index, z, n) of every stored coordinate in table order (snapshots, explain).</summary>
    public void ForEach<TState>(ref TState state, CoordinateVisitor<TState> visitor)
        where TState : allows ref struct
    {
        var t = Volatile.Read(ref _table);
        var slots = t.Slots;
        for (var i = 0; i < slots.Length; i++)
        {
            var key = Volatile.Read(ref slots[i].Key);
            if (key != Empty)
            {
                visitor(ref state, key, slots[i].Z, slots[i].N);
            }
        }
    }

    private int Insert(int key, float z, float n)
    {
        var t = _table;
        if (t.Count + 1 > t.Slots.Length * MaxLoad)
        {
            t = Grow(t);
        }

        var slot = t.FindFree(key);
        ref var s = ref t.Slots[slot];
        s.Z = z;
        s.N = n;
        Volatile.Write(ref s.Key, key);
        t.Count++;
        return slot;
    }

    private Table Grow(Table old)
    {
        var grown = new Table(old.Slots.Length * 2);
        foreach (var s in old.Slots)
        {
            if (s.Key == Empty)
            {
                continue;
            }

            grown.Slots[grown.FindFree(s.Key)] = s;
            grown.Count++;
        }

        Volatile.Write(ref _table, grown);
        return grown;
    }

    private float NextUnit()
    {
        // xorshift64* (Vigna 2016): deterministic per model, so runs are reproducible.
        var x = _rng;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        _rng = x;
        return ((x * 0x2545F4914F6CDD1DUL) >> 40) * (1f / (1 << 24));
    }

    /// <summary>One coordinate: its key (the feature index, or <see cref="Empty"/>) and its FTRL state.</summary>
    [StructLayout(LayoutKind.Sequential, Pack = 4)]
    private struct Slot
    {
        public int Key;
        public float Z;
        public float N;
    }

    private sealed class Table
    {
        public readonly Slot[] Slots;
        public int Count;
        private readonly int _mask;

        public Table(int capacity)
        {
            Slots = new Slot[capacity];
            Slots.AsSpan().Fill(new Slot { Key = Empty });
            _mask = capacity - 1;
        }

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public int Find(int key)
        {
            var slots = Slots;
            var slot = (int)(((uint)key * 0x9E3779B1u) >> 7) & _mask;
            for (var probe = 0; probe < slots.Length; probe++)
            {
                var k = Volatile.Read(ref slots[slot].Key);
                if (k == key)
                {
                    return slot;
                }

                if (k == Empty)
                {
                    return -1;
                }

                slot = (slot + 1) & _mask;
            }

            return -1;
        }

        public int FindFree(int key)
        {
            var slot = (int)(((uint)key * 0x9E3779B1u) >> 7) & _mask;
            while (Slots[slot].Key != Empty)
            {
                slot = (slot + 1) & _mask;
            }

            return slot;
        }
    }
}

/// <summary>Visits one stored coordinate of a <see cref="SparseFtrlModel"/>.</summary>
public delegate void CoordinateVisitor<TState>(ref TState state, int index, float z, float n)
    where TState : allows ref struct;
