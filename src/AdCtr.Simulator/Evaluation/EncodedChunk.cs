using AdCtr.Learning.Features;

namespace AdCtr.Simulator.Evaluation;

/// <summary>
/// A chunk of encoded examples in flat arrays, handed from the thread that reads and encodes a log to the
/// thread that learns from it (the two halves of an online pass run on the machine's two cores).
/// </summary>
internal sealed class EncodedChunk(int capacity = EncodedChunk.DefaultCapacity)
{
    public const int DefaultCapacity = 2048;

    private int[] _gi = new int[capacity * 48];
    private float[] _gv = new float[capacity * 48];
    private int[] _ci = new int[capacity * 16];
    private float[] _cv = new float[capacity * 16];
    private readonly int[] _gOffset = new int[capacity + 1];
    private readonly int[] _cOffset = new int[capacity + 1];

    public int Capacity { get; } = capacity;

    public int Count { get; private set; }

    public float[] Labels { get; } = new float[capacity];

    public float[] Weights { get; } = new float[capacity];

    public long[] Lines { get; } = new long[capacity];

    public ulong[] CampaignKeys { get; } = new ulong[capacity];

    public bool[] HasCampaign { get; } = new bool[capacity];

    public bool IsFull => Count == Capacity;

    public void Clear() => Count = 0;

    public void Add(EncodedExample x, float label, float weight, long line)
    {
        var i = Count;
        _gOffset[i + 1] = Append(ref _gi, ref _gv, _gOffset[i], x.Global);
        _cOffset[i + 1] = Append(ref _ci, ref _cv, _cOffset[i], x.Campaign);
        Labels[i] = label;
        Weights[i] = weight;
        Lines[i] = line;
        CampaignKeys[i] = x.CampaignKey;
        HasCampaign[i] = x.HasCampaign;
        Count = i + 1;
    }

    public ReadOnlySpan<int> GlobalIndices(int i) => _gi.AsSpan(_gOffset[i], _gOffset[i + 1] - _gOffset[i]);

    public ReadOnlySpan<float> GlobalValues(int i) => _gv.AsSpan(_gOffset[i], _gOffset[i + 1] - _gOffset[i]);

    public ReadOnlySpan<int> CampaignIndices(int i) => _ci.AsSpan(_cOffset[i], _cOffset[i + 1] - _cOffset[i]);

    public ReadOnlySpan<float> CampaignValues(int i) => _cv.AsSpan(_cOffset[i], _cOffset[i + 1] - _cOffset[i]);

    private static int Append(ref int[] indices, ref float[] values, int at, FeatureVector v)
    {
        var end = at + v.Count;
        if (end > indices.Length)
        {
            Array.Resize(ref indices, Math.Max(end, indices.Length * 2));
            Array.Resize(ref values, indices.Length);
        }

        v.Indices.CopyTo(indices.AsSpan(at));
        v.Values.CopyTo(values.AsSpan(at));
        return end;
    }
}
