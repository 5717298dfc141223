using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

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

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public double Dot(ReadOnlySpan<int> indices, ReadOnlySpan<float> values, Span<float> weights)
    {
        ref var zn = ref MemoryMarshal.GetArrayDataReference(_zn);
        var sum = 0.0;
        for (var k = 0; k < indices.Length; k++)
        {
            var i = (nint)(uint)(indices[k] & _mask) << 1;
            var w = _math.Weight(Unsafe.Add(ref zn, i), Unsafe.Add(ref zn, i + 1));
            weights[k] = w;
            sum += w * values[k];
        }

        return sum;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public double Dot(ReadOnlySpan<int> indices, ReadOnlySpan<float> values)
    {
        ref var zn = ref MemoryMarshal.GetArrayDataReference(_zn);
        var sum = 0.0;
        for (var k = 0; k < indices.Length; k++)
        {
            var i = (nint)(uint)(indices[k] & _mask) << 1;
            sum += _math.Weight(Unsafe.Add(ref zn, i), Unsafe.Add(ref zn, i + 1)) * values[k];
        }

        return sum;
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
