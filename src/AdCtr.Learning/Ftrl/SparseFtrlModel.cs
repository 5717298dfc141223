using System.Numerics;
using System.Runtime.CompilerServices;

namespace AdCtr.Learning.Ftrl;

/// <summary>
/// FTRL-Proximal that stores only the coordinates it has seen, in an open-addressing table (linear
/// probing, keys and interleaved (z, n) in parallel arrays) that doubles when 70% full. Used for the
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
    public int Capacity => Volatile.Read(ref _table).Keys.Length;

    public long MemoryBytes
    {
        get
        {
            var t = Volatile.Read(ref _table);
            return ((long)t.Keys.Length * sizeof(int)) + ((long)t.Zn.Length * sizeof(float));
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
            var w = slot < 0 ? 0f : _math.Weight(t.Zn[slot << 1], t.Zn[(slot << 1) + 1]);
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
                sum += _math.Weight(t.Zn[slot << 1], t.Zn[(slot << 1) + 1]) * values[k];
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

            var i = slot << 1;
            _math.Update(ref t.Zn[i], ref t.Zn[i + 1], gradientScale * values[k], weights[k]);
        }
    }

    public float WeightOf(int index)
    {
        var t = Volatile.Read(ref _table);
        var slot = t.Find(index);
        return slot < 0 ? 0f : _math.Weight(t.Zn[slot << 1], t.Zn[(slot << 1) + 1]);
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

        z = t.Zn[slot << 1];
        n = t.Zn[(slot << 1) + 1];
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

        _table.Zn[slot << 1] = z;
        _table.Zn[(slot << 1) + 1] = n;
    }

    /// <summary>Enumerates (index, z, n) of every stored coordinate in table order (snapshots, explain).</summary>
    public void ForEach<TState>(ref TState state, CoordinateVisitor<TState> visitor)
        where TState : allows ref struct
    {
        var t = Volatile.Read(ref _table);
        for (var s = 0; s < t.Keys.Length; s++)
        {
            var key = t.Keys[s];
            if (key != Empty)
            {
                visitor(ref state, key, t.Zn[s << 1], t.Zn[(s << 1) + 1]);
            }
        }
    }

    private int Insert(int key, float z, float n)
    {
        var t = _table;
        if (t.Count + 1 > t.Keys.Length * MaxLoad)
        {
            t = Grow(t);
        }

        var slot = t.FindFree(key);
        t.Zn[slot << 1] = z;
        t.Zn[(slot << 1) + 1] = n;
        Volatile.Write(ref t.Keys[slot], key);
        t.Count++;
        return slot;
    }

    private Table Grow(Table old)
    {
        var grown = new Table(old.Keys.Length * 2);
        for (var s = 0; s < old.Keys.Length; s++)
        {
            var key = old.Keys[s];
            if (key == Empty)
            {
                continue;
            }

            var slot = grown.FindFree(key);
            grown.Zn[slot << 1] = old.Zn[s << 1];
            grown.Zn[(slot << 1) + 1] = old.Zn[(s << 1) + 1];
            grown.Keys[slot] = key;
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

    private sealed class Table
    {
        public readonly int[] Keys;
        public readonly float[] Zn;
        public int Count;
        private readonly int _mask;

        public Table(int capacity)
        {
            Keys = new int[capacity];
            Keys.AsSpan().Fill(Empty);
            Zn = new float[capacity * 2];
            _mask = capacity - 1;
        }

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public int Find(int key)
        {
            var keys = Keys;
            var slot = (int)(((uint)key * 0x9E3779B1u) >> 7) & _mask;
            for (var probe = 0; probe < keys.Length; probe++)
            {
                var k = Volatile.Read(ref keys[slot]);
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
            while (Keys[slot] != Empty)
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
