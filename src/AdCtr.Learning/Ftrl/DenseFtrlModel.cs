using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using AdCtr.Learning.Memory;

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
        // 32 MiB at 22 bits: on huge pages where the kernel offers them, so that zeroing it faults 16 pages, not 8,192.
        _zn = LargeArrays.Allocate<float>(2 << bits);
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
        if (indices.Length > values.Length || indices.Length > weights.Length)
        {
            throw new ArgumentException("indices, values and weights differ in length");
        }

        var k = Avx2.IsSupported && indices.Length >= Vector256<int>.Count
            ? UpdateVector(indices, values, weights, gradientScale)
            : 0;
        UpdateScalar(indices, values, weights, gradientScale, k, indices.Length);
    }

    /// <summary>The sequential FTRL update of coordinates <paramref name="from"/> .. <paramref name="to"/> - 1.</summary>
    private void UpdateScalar(ReadOnlySpan<int> indices, ReadOnlySpan<float> values, ReadOnlySpan<float> weights, float gradientScale, int from, int to)
    {
        ref var zn = ref MemoryMarshal.GetArrayDataReference(_zn);
        for (var k = from; k < to; k++)
        {
            var i = (nint)(uint)(indices[k] & _mask) << 1;
            _math.Update(ref Unsafe.Add(ref zn, i), ref Unsafe.Add(ref zn, i + 1), gradientScale * values[k], weights[k]);
        }
    }

    /// <summary>
    /// The FTRL update eight coordinates at a time (AVX2): gather (z, n), compute the eight new states with the
    /// same float operations in the same order as <see cref="FtrlMath.Update"/> (nothing fused, IEEE sqrt), so
    /// each is bit-identical to the scalar update, then store them pair by pair. A group of eight is done after
    /// the stores of the previous group, so a coordinate repeated in two groups sees its first update as the
    /// sequential loop would; a group in which two lanes hit the same slot is done by the scalar loop instead.
    /// Returns how many leading coordinates were updated (a multiple of eight); the caller does the rest.
    /// </summary>
    private unsafe int UpdateVector(ReadOnlySpan<int> indices, ReadOnlySpan<float> values, ReadOnlySpan<float> weights, float gradientScale)
    {
        var mask = Vector256.Create(_mask);
        var g = Vector256.Create(gradientScale);
        var invAlpha = Vector256.Create(_math.InvAlpha);
        var rotate1 = Vector256.Create(1, 2, 3, 4, 5, 6, 7, 0);
        var rotate2 = Vector256.Create(2, 3, 4, 5, 6, 7, 0, 1);
        var rotate3 = Vector256.Create(3, 4, 5, 6, 7, 0, 1, 2);
        var rotate4 = Vector256.Create(4, 5, 6, 7, 0, 1, 2, 3);
        var pairs = stackalloc ulong[Vector256<int>.Count];
        var slots = stackalloc int[Vector256<int>.Count];
        var k = 0;
        fixed (float* state = _zn)
        fixed (int* idx = indices)
        fixed (float* val = values)
        fixed (float* wt = weights)
        {
            var last = indices.Length - Vector256<int>.Count;
            for (; k <= last; k += Vector256<int>.Count)
            {
                var slot = Avx2.And(Avx.LoadVector256(idx + k), mask);

                // Every pair of the eight lanes is some rotation of 1 to 4 apart.
                var same = Vector256.Equals(slot, Avx2.PermuteVar8x32(slot, rotate1))
                    | Vector256.Equals(slot, Avx2.PermuteVar8x32(slot, rotate2))
                    | Vector256.Equals(slot, Avx2.PermuteVar8x32(slot, rotate3))
                    | Vector256.Equals(slot, Avx2.PermuteVar8x32(slot, rotate4));
                if (same != Vector256<int>.Zero)
                {
                    UpdateScalar(indices, values, weights, gradientScale, k, k + Vector256<int>.Count);
                    continue;
                }

                var z = Avx2.GatherVector256(state, slot, 8);
                var n = Avx2.GatherVector256(state + 1, slot, 8);
                var gi = g * Avx.LoadVector256(val + k);
                var w = Avx.LoadVector256(wt + k);
                var n1 = n + (gi * gi);
                var sigma = (Vector256.Sqrt(n1) - Vector256.Sqrt(n)) * invAlpha;
                var z1 = z + (gi - (sigma * w));

                // (z, n) pairs as 64-bit lanes: unpack gives lanes 0, 1, 4, 5 and 2, 3, 6, 7.
                Avx.Store(pairs, Avx.UnpackLow(z1, n1).AsUInt64());
                Avx.Store(pairs + 4, Avx.UnpackHigh(z1, n1).AsUInt64());
                Avx.Store(slots, slot);
                var zn = (ulong*)state;
                zn[slots[0]] = pairs[0];
                zn[slots[1]] = pairs[1];
                zn[slots[4]] = pairs[2];
                zn[slots[5]] = pairs[3];
                zn[slots[2]] = pairs[4];
                zn[slots[3]] = pairs[5];
                zn[slots[6]] = pairs[6];
                zn[slots[7]] = pairs[7];
            }
        }

        return k;
    }

    /// <summary>
    /// The FTRL update of <see cref="Update"/> computed against this model as it is, without writing it: appends one
    /// (coordinate, dz, dn) term per coordinate to <paramref name="deltas"/> (dz = g_i - sigma_i w_i, dn = g_i^2, with
    /// sigma_i from this model's n). <see cref="Apply"/> adds them later. For one example alone, Defer then Apply gives
    /// the bits <see cref="Update"/> gives (the same float operations in the same order).
    /// </summary>
    public void Defer(ReadOnlySpan<int> indices, ReadOnlySpan<float> values, ReadOnlySpan<float> weights, float gradientScale, FtrlDeltas deltas)
    {
        if (indices.Length > values.Length || indices.Length > weights.Length)
        {
            throw new ArgumentException("indices, values and weights differ in length");
        }

        deltas.Reserve(indices.Length, out var slots, out var dz, out var dn);
        var k = Avx2.IsSupported && indices.Length >= Vector256<int>.Count
            ? DeferVector(indices, values, weights, gradientScale, slots, dz, dn)
            : 0;
        ref var zn = ref MemoryMarshal.GetArrayDataReference(_zn);
        var invAlpha = _math.InvAlpha;
        for (; k < indices.Length; k++)
        {
            var slot = indices[k] & _mask;
            var n0 = Unsafe.Add(ref zn, ((nint)(uint)slot << 1) + 1);
            var g = gradientScale * values[k];
            var n1 = n0 + (g * g);
            var sigma = (MathF.Sqrt(n1) - MathF.Sqrt(n0)) * invAlpha;
            slots[k] = slot;
            dz[k] = g - (sigma * weights[k]);
            dn[k] = g * g;
        }
    }

    /// <summary>Eight coordinates at a time: gathers only n (the weights are given), stores the terms contiguously.</summary>
    private unsafe int DeferVector(ReadOnlySpan<int> indices, ReadOnlySpan<float> values, ReadOnlySpan<float> weights, float gradientScale, Span<int> slots, Span<float> dz, Span<float> dn)
    {
        var mask = Vector256.Create(_mask);
        var g = Vector256.Create(gradientScale);
        var invAlpha = Vector256.Create(_math.InvAlpha);
        var k = 0;
        fixed (float* state = _zn)
        fixed (int* idx = indices)
        fixed (float* val = values)
        fixed (float* wt = weights)
        fixed (int* outSlot = slots)
        fixed (float* outDz = dz)
        fixed (float* outDn = dn)
        {
            var last = indices.Length - Vector256<int>.Count;
            for (; k <= last; k += Vector256<int>.Count)
            {
                var slot = Avx2.And(Avx.LoadVector256(idx + k), mask);
                var n = Avx2.GatherVector256(state + 1, slot, 8);
                var gi = g * Avx.LoadVector256(val + k);
                var g2 = gi * gi;
                var sigma = (Vector256.Sqrt(n + g2) - Vector256.Sqrt(n)) * invAlpha;
                Avx.Store(outSlot + k, slot);
                Avx.Store(outDz + k, gi - (sigma * Avx.LoadVector256(wt + k)));
                Avx.Store(outDn + k, g2);
            }
        }

        return k;
    }

    /// <summary>
    /// Adds deferred terms to this model in their order (z += dz, n += dn). The caller fixes the order of the turns it
    /// applies, so the result does not depend on thread timing. Concurrent readers see each coordinate before or after
    /// its term, never torn (32-bit writes).
    /// </summary>
    public void Apply(FtrlDeltas deltas)
    {
        ref var zn = ref MemoryMarshal.GetArrayDataReference(_zn);
        var slots = deltas.Indices;
        var dz = deltas.Dz;
        var dn = deltas.Dn;
        for (var k = 0; k < slots.Length; k++)
        {
            var i = (nint)(uint)(slots[k] & _mask) << 1;
            Unsafe.Add(ref zn, i) += dz[k];
            Unsafe.Add(ref zn, i + 1) += dn[k];
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

    /// <summary>Copies the interleaved (z, n) state into <paramref name="destination"/> (2^(bits+1) floats).</summary>
    public void CopyStateTo(Span<float> destination) => _zn.AsSpan().CopyTo(destination);

    /// <summary>Replaces the state with interleaved (z, n) pairs (2^(bits+1) floats).</summary>
    public void CopyStateFrom(ReadOnlySpan<float> state)
    {
        if (state.Length != _zn.Length)
        {
            throw new ArgumentException("the state holds " + state.Length + " floats, this model " + _zn.Length, nameof(state));
        }

        state.CopyTo(_zn);
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
