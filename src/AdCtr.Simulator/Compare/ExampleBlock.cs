using AdCtr.Learning.Batch;
using AdCtr.Learning.Features;
using AdCtr.Learning.MLNet;

namespace AdCtr.Simulator.Compare;

/// <summary>
/// A block of encoded examples in flat arrays, encoded once and read by every strategy. Example i owns the
/// segment [Start[i], Start[i+1]) of <see cref="Indices"/> and <see cref="Values"/>: first its
/// <see cref="GlobalCount"/>[i] global GLMix features, then its campaign features re-hashed with the campaign key
/// (<see cref="Evaluation.OfflineEvaluator.Combine"/>). The whole segment is the feature vector of the batch
/// logistic regression; <see cref="CampaignIndices"/> holds, at the same positions, the campaign features'
/// original indices for the online GLMix campaign model. Filled by one thread, then read-only.
/// </summary>
public sealed class ExampleBlock
{
    private int[] _indices;
    private float[] _values;
    private int[] _campaignIndices;

    public ExampleBlock(int capacity, int fields = 0)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(capacity, 1);
        ArgumentOutOfRangeException.ThrowIfNegative(fields);
        Capacity = capacity;
        Fields = fields;
        FieldKeys = new uint[capacity * fields];
        FieldValues = new float[capacity * fields];
        Hours = new double[capacity];
        Labels = new byte[capacity];
        Weights = new float[capacity];
        Truth = new double[capacity];
        Start = new int[capacity + 1];
        GlobalCount = new int[capacity];
        CampaignKeys = new ulong[capacity];
        HasCampaign = new bool[capacity];
        _indices = new int[capacity * 32];
        _values = new float[_indices.Length];
        _campaignIndices = new int[_indices.Length];
    }

    public int Capacity { get; }

    /// <summary>Spec fields kept per example for the field-aware learners (0: none kept).</summary>
    public int Fields { get; }

    /// <summary>
    /// Per example, <see cref="Fields"/> field hashes (<see cref="FeatureEncoder.FieldHashes"/>, 0 = missing): the
    /// fields of the factorization machine and the trees.
    /// </summary>
    public uint[] FieldKeys { get; }

    /// <summary>Per example and field: the number of a count or numeric field, 1 otherwise.</summary>
    public float[] FieldValues { get; }

    public int Count { get; private set; }

    public bool IsFull => Count == Capacity;

    /// <summary>Example time in hours on the stream clock (non-decreasing within and across blocks).</summary>
    public double[] Hours { get; }

    public byte[] Labels { get; }

    public float[] Weights { get; }

    /// <summary>True click probability, or NaN when the source has none.</summary>
    public double[] Truth { get; }

    public int[] Start { get; }

    public int[] GlobalCount { get; }

    public ulong[] CampaignKeys { get; }

    public bool[] HasCampaign { get; }

    public int[] Indices => _indices;

    public float[] Values => _values;

    public int[] CampaignIndices => _campaignIndices;

    public double FirstHours => Hours[0];

    public double LastHours => Hours[Count - 1];

    public void Clear() => Count = 0;

    /// <summary>Appends one example: <paramref name="x"/> as encoded and <paramref name="combined"/> = Combine(x).</summary>
    public void Add(EncodedExample x, FeatureVector combined, double hours, int label, float weight, double truth, ReadOnlySpan<uint> fieldKeys = default, ReadOnlySpan<float> fieldValues = default)
    {
        if (Fields > 0)
        {
            fieldKeys.CopyTo(FieldKeys.AsSpan(Count * Fields, Fields));
            fieldValues.CopyTo(FieldValues.AsSpan(Count * Fields, Fields));
        }

        var i = Count;
        var start = Start[i];
        var n = combined.Count;
        if (start + n > _indices.Length)
        {
            var size = Math.Max(_indices.Length * 2, start + n);
            Array.Resize(ref _indices, size);
            Array.Resize(ref _values, size);
            Array.Resize(ref _campaignIndices, size);
        }

        combined.Indices.CopyTo(_indices.AsSpan(start));
        combined.Values.CopyTo(_values.AsSpan(start));
        var g = x.Global.Count;
        GlobalCount[i] = g;
        HasCampaign[i] = x.HasCampaign;
        CampaignKeys[i] = x.CampaignKey;
        if (x.HasCampaign)
        {
            x.Campaign.Indices.CopyTo(_campaignIndices.AsSpan(start + g));
        }

        Hours[i] = hours;
        Labels[i] = (byte)label;
        Weights[i] = weight;
        Truth[i] = truth;
        Start[i + 1] = start + n;
        Count = i + 1;
    }

    /// <summary>The batch feature vector of example i (global + re-hashed campaign features).</summary>
    public ReadOnlySpan<int> CombinedIndices(int i) => _indices.AsSpan(Start[i], Start[i + 1] - Start[i]);

    public ReadOnlySpan<float> CombinedValues(int i) => _values.AsSpan(Start[i], Start[i + 1] - Start[i]);

    /// <summary>The field keys of example i.</summary>
    public ReadOnlySpan<uint> KeysOf(int i) => FieldKeys.AsSpan(i * Fields, Fields);

    /// <summary>The field values of example i.</summary>
    public ReadOnlySpan<float> ValuesOf(int i) => FieldValues.AsSpan(i * Fields, Fields);

    /// <summary>Adds the field keys and values of the examples with time in [from, to) among the first <paramref name="limit"/>.</summary>
    public void AddTo(FieldTable table, double from, double to, int limit)
    {
        for (var i = 0; i < limit; i++)
        {
            var h = Hours[i];
            if (h >= from && h < to)
            {
                table.Add(KeysOf(i), ValuesOf(i), Labels[i] > 0, Weights[i]);
            }
        }
    }

    /// <summary>Adds the examples with time in [from, to) among the first <paramref name="limit"/> to <paramref name="data"/>.</summary>
    public void AddTo(SparseDataset data, double from, double to, int limit)
    {
        for (var i = 0; i < limit; i++)
        {
            var h = Hours[i];
            if (h >= from && h < to)
            {
                data.Add(CombinedIndices(i), CombinedValues(i), Labels[i], Weights[i]);
            }
        }
    }
}

/// <summary>
/// The recent past: the blocks that may still hold examples of a batch training window (the last W hours),
/// oldest first. Blocks that fall out of every window are recycled, so memory stays bounded by W hours of
/// examples plus one block. Changed by the runner between blocks only; read by the strategies concurrently.
/// </summary>
public sealed class ExampleHistory
{
    private readonly Queue<ExampleBlock> _blocks = new();
    private readonly Stack<ExampleBlock> _free = new();
    private readonly int _blockSize;
    private readonly int _fields;

    public ExampleHistory(int blockSize, int fields = 0)
    {
        _blockSize = blockSize;
        _fields = fields;
    }

    /// <summary>Number of examples held.</summary>
    public long Examples { get; private set; }

    /// <summary>Most examples held at once (the ring's high-water mark).</summary>
    public long PeakExamples { get; private set; }

    /// <summary>Time of the newest example held, or -infinity.</summary>
    public double LastHours { get; private set; } = double.NegativeInfinity;

    /// <summary>An empty block, recycled when possible.</summary>
    public ExampleBlock Rent()
    {
        var block = _free.Count > 0 ? _free.Pop() : new ExampleBlock(_blockSize, _fields);
        block.Clear();
        return block;
    }

    /// <summary>Adds a block the strategies have finished.</summary>
    public void Append(ExampleBlock block)
    {
        _blocks.Enqueue(block);
        Examples += block.Count;
        PeakExamples = Math.Max(PeakExamples, Examples);
        LastHours = block.LastHours;
    }

    /// <summary>Returns a block that was rented but never appended.</summary>
    public void Return(ExampleBlock block) => _free.Push(block);

    /// <summary>Recycles the blocks whose every example is older than <paramref name="fromHours"/>.</summary>
    public void Trim(double fromHours)
    {
        while (_blocks.Count > 0 && _blocks.Peek().LastHours < fromHours)
        {
            var old = _blocks.Dequeue();
            Examples -= old.Count;
            _free.Push(old);
        }
    }

    /// <summary>
    /// The training set of [from, to): the held examples in that range, then those among the first
    /// <paramref name="currentLimit"/> of <paramref name="current"/> (the block being scored).
    /// </summary>
    public SparseDataset BuildDataset(int dimension, double from, double to, ExampleBlock current, int currentLimit)
    {
        var data = new SparseDataset(dimension);
        foreach (var block in _blocks)
        {
            if (block.LastHours >= from && block.FirstHours < to)
            {
                block.AddTo(data, from, to, block.Count);
            }
        }

        current.AddTo(data, from, to, currentLimit);
        return data;
    }

    /// <summary>The field table of [from, to), like <see cref="BuildDataset"/>.</summary>
    public FieldTable BuildFieldTable(int fields, double from, double to, ExampleBlock current, int currentLimit)
    {
        var table = new FieldTable(fields);
        foreach (var block in _blocks)
        {
            if (block.LastHours >= from && block.FirstHours < to)
            {
                block.AddTo(table, from, to, block.Count);
            }
        }

        current.AddTo(table, from, to, currentLimit);
        return table;
    }
}
