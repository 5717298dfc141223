using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace AdCtr.Learning.Ftrl;

/// <summary>
/// FTRL-Proximal over 2^bits coordinates in one array with z and n interleaved, so the state of a
/// coordinate is one cache line read. Used for the large global model. Concurrent <see cref="Update"/>
/// calls are Hogwild-style (Recht et al. 2011): 32-bit float writes are atomic, and a lost update of one
/// coordinate under a race is accepted for this model class; reads never see torn values.
/// </summary>
public sealed class DenseFtrlModel : IFtrlModel
{
    private readonly float[] _zn;
    private readonly FtrlMath _math;
    private readonly int _mask;

    public DenseFtrlModel(int bits, FtrlParameters parameters)
    {
        if (bits is < 1 or > 30)
        {
            throw new ArgumentOutOfRangeException(nameof(bits), bits, "bits must be in 1..30");
        }

        Bits = bits;
        Parameters = parameters;
        _math = new FtrlMath(parameters);
        _zn = GC.AllocateUninitializedArray<float>(2 << bits, pinned: false);
        Array.Clear(_zn);
        _mask = (1 << bits) - 1;
    }

    public int Bits { get; }

    public int Dimension => 1 << Bits;

    public FtrlParameters Parameters { get; }

    public long Coordinates
    {
        get
        {
            long count = 0;
            var zn = _zn;
            for (var i = 1; i < zn.Length; i += 2)
            {
                if (zn[i] != 0f)
                {
                    count++;
                }
            }

            return count;
        }
    }

    public long MemoryBytes => (long)_zn.Length * sizeof(float);

    /// <summary>The interleaved (z, n) state, for snapshots.</summary>
    internal Span<float> State => _zn;

    public double Dot(ReadOnlySpan<int> indices, ReadOnlySpan<float> values, Span<float> weights)
    {
        if (indices.Length > values.Length || indices.Length > weights.Length)
        {
            throw new ArgumentException("indices, values and weights differ in length");
        }

        return DotCore(indices, values, weights, storeWeights: true);
    }

    public double Dot(ReadOnlySpan<int> indices, ReadOnlySpan<float> values)
    {
        if (indices.Length > values.Length)
        {
            throw new ArgumentException("indices and values differ in length");
        }

        return DotCore(indices, values, default, storeWeights: false);
    }

    /// <summary>
    /// Sum of w_i x_i, eight coordinates at a time where AVX2 is available: the (z, n) pairs of eight
    /// scattered coordinates are fetched with two gathers (all loads issued before any arithmetic, so
    /// their cache misses overlap), and the lazy FTRL weights are computed with one vector sqrt and
    /// one vector division. Each weight is bit-identical to <see cref="FtrlMath.Weight"/> (IEEE sqrt and
    /// division are correctly rounded, and nothing is fused); only the order in which the products
    /// are summed (in double) differs from a sequential loop.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private unsafe double DotCore(ReadOnlySpan<int> indices, ReadOnlySpan<float> values, Span<float> weights, bool storeWeights)
    {
        ref var zn = ref MemoryMarshal.GetArrayDataReference(_zn);
        var k = 0;
        var sum = 0.0;
        if (Avx2.IsSupported && indices.Length >= Vector256<int>.Count)
        {
            var mask = Vector256.Create(_mask);
            var acc0 = Vector256<double>.Zero;
            var acc1 = Vector256<double>.Zero;
            fixed (float* state = _zn)
            fixed (int* idx = indices)
            fixed (float* val = values)
            {
                var last = indices.Length - Vector256<int>.Count;
                for (; k <= last; k += Vector256<int>.Count)
                {
                    // Index i of the coordinate, scale 8 bytes = one (z, n) pair: no overflow below 2^31 pairs.
                    var slot = Avx2.And(Avx.LoadVector256(idx + k), mask);
                    var z = Avx2.GatherVector256(state, slot, 8);
                    var n = Avx2.GatherVector256(state + 1, slot, 8);
                    var w = _math.Weights(z, n);
                    if (storeWeights)
                    {
                        w.StoreUnsafe(ref MemoryMarshal.GetReference(weights), (nuint)k);
                    }

                    var product = w * Avx.LoadVector256(val + k);
                    var (lower, upper) = Vector256.Widen(product);
                    acc0 += lower;
                    acc1 += upper;
                }
            }

            sum = Vector256.Sum(acc0 + acc1);
        }

        for (; k < indices.Length; k++)
        {
            var i = (nint)(uint)(indices[k] & _mask) << 1;
            var w = _math.Weight(Unsafe.Add(ref zn, i), Unsafe.Add(ref zn, i + 1));
            if (storeWeights)
            {
                weights[k] = w;
            }

            sum += w * values[k];
        }

        return sum;
    }

    /// <summary>
    /// Hints the processor to fetch the state of these coordinates into the cache (no effect on the model): a
    /// caller that knows its next examples can overlap their scattered table reads with the current one's work.
    /// </summary>
    public unsafe void Prefetch(ReadOnlySpan<int> indices)
    {
        if (!Sse.IsSupported)
        {
            return;
        }

        fixed (float* state = _zn)
        {
            foreach (var index in indices)
            {
                Sse.Prefetch0(state + ((nint)(uint)(index & _mask) << 1));
            }
        }
    }

    public void Update(ReadOnlySpan<int> indices, ReadOnlySpan<float> values, ReadOnlySpan<float> weights, float gradientScale)
    {
        ref var zn = ref MemoryMarshal.GetArrayDataReference(_zn);
        for (var k = 0; k < indices.Length; k++)
        {
            var i = (nint)(uint)(indices[k] & _mask) << 1;
            _math.Update(ref Unsafe.Add(ref zn, i), ref Unsafe.Add(ref zn, i + 1), gradientScale * values[k], weights[k]);
        }
    }

    public float WeightOf(int index)
    {
        var i = (index & _mask) << 1;
        return _math.Weight(_zn[i], _zn[i + 1]);
    }

    public bool TryGetState(int index, out float z, out float n)
    {
        var i = (index & _mask) << 1;
        z = _zn[i];
        n = _zn[i + 1];
        return n != 0f || z != 0f;
    }

    /// <summary>Sets the (z, n) state of one coordinate (batch warm starts, snapshot tools).</summary>
    public void SetState(int index, float z, float n)
    {
        var i = (index & _mask) << 1;
        _zn[i] = z;
        _zn[i + 1] = n;
    }

    /// <summary>Copies the state of <paramref name="other"/> (same bits) into this model.</summary>
    public void CopyFrom(DenseFtrlModel other)
    {
        if (other.Bits != Bits)
        {
            throw new ArgumentException("models differ in bits", nameof(other));
        }

        other._zn.AsSpan().CopyTo(_zn);
    }
}
