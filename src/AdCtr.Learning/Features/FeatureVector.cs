using System.Runtime.CompilerServices;

namespace AdCtr.Learning.Features;

/// <summary>
/// A sparse feature vector as parallel arrays of indices and values (the shape of ML.NET's VBuffer),
/// reused across examples: <see cref="Clear"/> and <see cref="Add"/> do not allocate once grown.
/// </summary>
public sealed class FeatureVector
{
    private int[] _indices;
    private float[] _values;

    public FeatureVector(int capacity = 64)
    {
        _indices = new int[Math.Max(4, capacity)];
        _values = new float[_indices.Length];
    }

    public int Count { get; private set; }

    public ReadOnlySpan<int> Indices => _indices.AsSpan(0, Count);

    public ReadOnlySpan<float> Values => _values.AsSpan(0, Count);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void Clear() => Count = 0;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void Add(int index, float value)
    {
        var count = Count;
        if ((uint)count >= (uint)_indices.Length)
        {
            Grow();
        }

        _indices[count] = index;
        _values[count] = value;
        Count = count + 1;
    }

    public void CopyFrom(FeatureVector other)
    {
        Count = 0;
        for (var i = 0; i < other.Count; i++)
        {
            Add(other._indices[i], other._values[i]);
        }
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private void Grow()
    {
        Array.Resize(ref _indices, _indices.Length * 2);
        Array.Resize(ref _values, _values.Length * 2);
    }
}

/// <summary>An encoded example: the global model's features, the campaign model's, and the campaign key.</summary>
public sealed class EncodedExample
{
    public FeatureVector Global { get; } = new();

    public FeatureVector Campaign { get; } = new();

    /// <summary>64-bit hash of the campaign field's value; meaningful only when <see cref="HasCampaign"/>.</summary>
    public ulong CampaignKey { get; set; }

    public bool HasCampaign { get; set; }

    public void Clear()
    {
        Global.Clear();
        Campaign.Clear();
        CampaignKey = 0;
        HasCampaign = false;
    }
}
