using System.Runtime.CompilerServices;

namespace AdCtr.Learning.Ftrl;

/// <summary>
/// Changes to a <see cref="DenseFtrlModel"/> held back instead of written: one (coordinate, dz, dn) term per updated
/// coordinate of each learned example, in the order they were made. FTRL-Proximal's state is a sum of per-example
/// terms (McMahan et al., "Ad Click Prediction: a View from the Trenches", KDD 2013, Algorithm 1: z_i += g_i - sigma_i
/// w_i, n_i += g_i^2), so terms computed against a model that does not change while they are made can be added to it
/// later. A learn turn that defers its global updates this way reads a model no other turn writes; adding the turns'
/// deltas in a fixed order then gives the same bits whatever the thread timing was (issue 15: reproducible learning).
/// Not thread-safe: one writer, then one reader.
/// </summary>
public sealed class FtrlDeltas
{
    private int[] _indices;
    private float[] _dz;
    private float[] _dn;

    public FtrlDeltas(int capacity = 4096)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(capacity);
        _indices = new int[capacity];
        _dz = new float[capacity];
        _dn = new float[capacity];
    }

    /// <summary>Terms held.</summary>
    public int Count { get; private set; }

    public ReadOnlySpan<int> Indices => _indices.AsSpan(0, Count);

    public ReadOnlySpan<float> Dz => _dz.AsSpan(0, Count);

    public ReadOnlySpan<float> Dn => _dn.AsSpan(0, Count);

    public void Clear() => Count = 0;

    /// <summary>Appends one term.</summary>
    public void Add(int index, float dz, float dn)
    {
        var k = Count;
        if (k == _indices.Length)
        {
            Grow(k + 1);
        }

        _indices[k] = index;
        _dz[k] = dz;
        _dn[k] = dn;
        Count = k + 1;
    }

    /// <summary>Appends every term of <paramref name="other"/>, in its order.</summary>
    public void AddRange(FtrlDeltas other)
    {
        Reserve(other.Count, out var indices, out var dz, out var dn);
        other.Indices.CopyTo(indices);
        other.Dz.CopyTo(dz);
        other.Dn.CopyTo(dn);
    }

    /// <summary>Makes room for <paramref name="count"/> more terms and returns them (to be filled by the caller).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal void Reserve(int count, out Span<int> indices, out Span<float> dz, out Span<float> dn)
    {
        var at = Count;
        var end = at + count;
        if (end > _indices.Length)
        {
            Grow(end);
        }

        indices = _indices.AsSpan(at, count);
        dz = _dz.AsSpan(at, count);
        dn = _dn.AsSpan(at, count);
        Count = end;
    }

    private void Grow(int needed)
    {
        var size = Math.Max(needed, Math.Max(64, _indices.Length * 2));
        Array.Resize(ref _indices, size);
        Array.Resize(ref _dz, size);
        Array.Resize(ref _dn, size);
    }

    /// <summary>
    /// The terms summed per coordinate (in term order, so the sums do not depend on thread timing), one term per
    /// coordinate, ascending: what a silo sends to the other silos for the global model (issue 11).
    /// </summary>
    public FtrlDeltas Aggregate()
    {
        var slot = new Dictionary<int, int>(Count);
        var indices = new List<int>();
        var dz = new List<float>();
        var dn = new List<float>();
        for (var k = 0; k < Count; k++)
        {
            if (slot.TryGetValue(_indices[k], out var at))
            {
                dz[at] += _dz[k];
                dn[at] += _dn[k];
            }
            else
            {
                slot.Add(_indices[k], indices.Count);
                indices.Add(_indices[k]);
                dz.Add(_dz[k]);
                dn.Add(_dn[k]);
            }
        }

        var keys = indices.ToArray();
        var order = new int[keys.Length];
        for (var k = 0; k < order.Length; k++)
        {
            order[k] = k;
        }

        Array.Sort(keys, order);
        var sums = new FtrlDeltas(keys.Length);
        for (var k = 0; k < keys.Length; k++)
        {
            sums.Add(keys[k], dz[order[k]], dn[order[k]]);
        }

        return sums;
    }

    /// <summary>Fills the arrays with an existing set of terms (deserialization).</summary>
    public static FtrlDeltas From(int[] indices, float[] dz, float[] dn, int count)
    {
        if (count < 0 || count > indices.Length || count > dz.Length || count > dn.Length)
        {
            throw new ArgumentException("count exceeds the arrays");
        }

        var deltas = new FtrlDeltas(0) { Count = count };
        deltas._indices = indices;
        deltas._dz = dz;
        deltas._dn = dn;
        return deltas;
    }
}
