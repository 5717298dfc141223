using AdCtr.Grains.Journal;
using AdCtr.Learning.Features;

namespace AdCtr.Grains;

/// <summary>
/// Encoded examples of one request, in flat arrays (indices and values of each part, with offsets), so a
/// batch of 1,000 examples is a handful of arrays, reused across requests, not 1,000 objects. Campaign grains
/// read it through <see cref="CampaignSlice"/> without copying (it crosses grain calls as an immutable value:
/// the caller does not touch it until every call that holds it has completed). A call to a grain on another silo
/// carries it as <see cref="ExampleBatchBytes"/>: its rows in the journal's encoding (<see cref="CampaignJournalCodec"/>).
/// </summary>
public sealed class ExampleBatch
{
    private int[] _gi;
    private float[] _gv;
    private int[] _ci;
    private float[] _cv;
    private int[] _gOffset;
    private int[] _cOffset;
    private float[] _label;
    private float[] _weight;
    private long[] _time;
    private ulong[] _campaign;
    private bool[] _hasCampaign;

    /// <summary>A batch for a request (grown by doubling as rows are added, and reused).</summary>
    public ExampleBatch()
        : this(127, 4096, 1024)
    {
    }

    /// <summary>
    /// A batch sized for <paramref name="rows"/> rows with <paramref name="globalFeatures"/> and
    /// <paramref name="campaignFeatures"/> features in all (a campaign's slice, a decoded journal entry): the default
    /// sizes cost 45 KB of zeroed arrays, which a cluster allocated for each of a batch's 200 campaign slices.
    /// </summary>
    public ExampleBatch(int rows, int globalFeatures, int campaignFeatures)
    {
        var r = Math.Max(rows, 1) + 1;
        _gi = new int[Math.Max(globalFeatures, 1)];
        _gv = new float[_gi.Length];
        _ci = new int[Math.Max(campaignFeatures, 1)];
        _cv = new float[_ci.Length];
        _gOffset = new int[r + 1];
        _cOffset = new int[r + 1];
        _label = new float[r];
        _weight = new float[r];
        _time = new long[r];
        _campaign = new ulong[r];
        _hasCampaign = new bool[r];
    }

    /// <summary>The rows in the journal's encoding while this batch holds exactly the rows it was made from (<see cref="FromEncoded"/>).</summary>
    private byte[]? _encoded;

    public int Count { get; private set; }

    /// <summary>
    /// A batch of the rows of <paramref name="rows"/> (the journal's encoding, <see cref="CampaignJournalCodec"/>), sized to
    /// them; until it is changed it keeps those bytes as its wire form, so a call to another silo sends them as they are.
    /// <see cref="InvalidDataException"/> on bad bytes.
    /// </summary>
    public static ExampleBatch FromEncoded(byte[] rows)
    {
        var batch = CampaignJournalCodec.NewBatchFor(rows);
        CampaignJournalCodec.Decode(rows, batch);
        batch._encoded = rows;
        return batch;
    }

    /// <summary>Every row in the journal's encoding: the bytes the batch was made from, or encoded now.</summary>
    public byte[] Encoded() => _encoded ?? CampaignJournalCodec.EncodeAll(this);

    public void Clear()
    {
        _encoded = null;
        Count = 0;
        _gOffset[0] = 0;
        _cOffset[0] = 0;
    }

    public void Add(EncodedExample x, float label, float weight, long timestampMs) =>
        Add(x.Global.Indices, x.Global.Values, x.Campaign.Indices, x.Campaign.Values, label, weight, timestampMs, x.CampaignKey, x.HasCampaign);

    /// <summary>Adds one encoded example given as its parts (a journal entry being replayed).</summary>
    public void Add(ReadOnlySpan<int> globalIndices, ReadOnlySpan<float> globalValues, ReadOnlySpan<int> campaignIndices, ReadOnlySpan<float> campaignValues, float label, float weight, long timestampMs, ulong campaignKey, bool hasCampaign)
    {
        _encoded = null;
        var i = Count;
        if (i + 1 >= _label.Length)
        {
            var n = _label.Length * 2;
            Array.Resize(ref _label, n);
            Array.Resize(ref _weight, n);
            Array.Resize(ref _time, n);
            Array.Resize(ref _campaign, n);
            Array.Resize(ref _hasCampaign, n);
            Array.Resize(ref _gOffset, n + 1);
            Array.Resize(ref _cOffset, n + 1);
        }

        Append(ref _gi, ref _gv, _gOffset[i], globalIndices, globalValues);
        Append(ref _ci, ref _cv, _cOffset[i], campaignIndices, campaignValues);
        _gOffset[i + 1] = _gOffset[i] + globalIndices.Length;
        _cOffset[i + 1] = _cOffset[i] + campaignIndices.Length;
        _label[i] = label;
        _weight[i] = weight;
        _time[i] = timestampMs;
        _campaign[i] = campaignKey;
        _hasCampaign[i] = hasCampaign;
        Count = i + 1;
    }

    public ReadOnlySpan<int> GlobalIndices(int i) => _gi.AsSpan(_gOffset[i], _gOffset[i + 1] - _gOffset[i]);

    public ReadOnlySpan<float> GlobalValues(int i) => _gv.AsSpan(_gOffset[i], _gOffset[i + 1] - _gOffset[i]);

    public ReadOnlySpan<int> CampaignIndices(int i) => _ci.AsSpan(_cOffset[i], _cOffset[i + 1] - _cOffset[i]);

    public ReadOnlySpan<float> CampaignValues(int i) => _cv.AsSpan(_cOffset[i], _cOffset[i + 1] - _cOffset[i]);

    public float Label(int i) => _label[i];

    public float Weight(int i) => _weight[i];

    public long Timestamp(int i) => _time[i];

    public ulong CampaignKey(int i) => _campaign[i];

    public bool HasCampaign(int i) => _hasCampaign[i];

    private static void Append(ref int[] indices, ref float[] values, int at, ReadOnlySpan<int> newIndices, ReadOnlySpan<float> newValues)
    {
        var need = at + newIndices.Length;
        if (need > indices.Length)
        {
            var n = Math.Max(indices.Length * 2, need);
            Array.Resize(ref indices, n);
            Array.Resize(ref values, n);
        }

        newIndices.CopyTo(indices.AsSpan(at));
        newValues.CopyTo(values.AsSpan(at));
    }
}

/// <summary>
/// An <see cref="ExampleBatch"/> on the wire between silos: its rows in the journal's encoding, one byte array (Orleans
/// copies it as a block). The generated codec of the batch's arrays wrote every element with a field header, and every
/// array at its capacity: in a 3-silo cluster that serialization was the largest share of a silo's CPU while ingesting.
/// </summary>
[GenerateSerializer]
[Immutable]
[Alias("adctr.example-batch")]
public readonly struct ExampleBatchBytes
{
    [Id(0)]
    public required byte[] Rows { get; init; }
}

/// <summary>Converts <see cref="ExampleBatch"/> to and from <see cref="ExampleBatchBytes"/> for Orleans' serializer.</summary>
[RegisterConverter]
public sealed class ExampleBatchConverter : IConverter<ExampleBatch, ExampleBatchBytes>
{
    public ExampleBatch ConvertFromSurrogate(in ExampleBatchBytes surrogate) => ExampleBatch.FromEncoded(surrogate.Rows);

    public ExampleBatchBytes ConvertToSurrogate(in ExampleBatch value) => new() { Rows = value.Encoded() };
}
