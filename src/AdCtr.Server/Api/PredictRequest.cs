using System.Text.Json;
using AdCtr.Learning.Features;

namespace AdCtr.Server.Api;

/// <summary>
/// A parsed <c>POST /v1/predict</c> body kept as UTF-8 ranges into one buffer: the context's fields, and per
/// candidate its ids and feature fields. Pooled per thread and reused, so parsing allocates nothing once warm.
/// </summary>
internal sealed class PredictRequest
{
    private byte[] _bytes = new byte[4096];
    private int _used;
    private FieldValue[] _entries = new FieldValue[64];
    private int _entryCount;
    private Candidate[] _candidates = new Candidate[16];

    public ValueRange RequestId;
    public int ContextStart;
    public int ContextCount;
    public int CandidateCount;

    /// <summary>Fields in the request that the feature spec does not declare (ignored, counted).</summary>
    public int IgnoredFields;

    public ReadOnlySpan<Candidate> Candidates => _candidates.AsSpan(0, CandidateCount);

    public ReadOnlySpan<byte> Value(ValueRange range) => range.Length < 0 ? default : _bytes.AsSpan(range.Start, range.Length);

    public void Reset()
    {
        _used = 0;
        _entryCount = 0;
        RequestId = ValueRange.Missing;
        ContextStart = 0;
        ContextCount = 0;
        CandidateCount = 0;
        IgnoredFields = 0;
    }

    /// <summary>Writes the context and candidate <paramref name="index"/>'s fields into <paramref name="row"/>.</summary>
    public void FillRow(int index, RawRow row, int campaignField, int adField, int advertiserField)
    {
        row.Clear();
        for (var i = ContextStart; i < ContextStart + ContextCount; i++)
        {
            ref var e = ref _entries[i];
            row.Set(e.Field, _bytes.AsSpan(e.Value.Start, e.Value.Length));
        }

        ref var c = ref _candidates[index];
        for (var i = c.FeatureStart; i < c.FeatureStart + c.FeatureCount; i++)
        {
            ref var e = ref _entries[i];
            row.Set(e.Field, _bytes.AsSpan(e.Value.Start, e.Value.Length));
        }

        if (campaignField >= 0)
        {
            row.Set(campaignField, Value(c.CampaignId));
        }

        if (adField >= 0)
        {
            row.Set(adField, Value(c.AdId));
        }

        if (advertiserField >= 0 && c.AdvertiserId.Length >= 0)
        {
            row.Set(advertiserField, Value(c.AdvertiserId));
        }
    }

    internal ValueRange Store(ReadOnlySpan<byte> value)
    {
        if (_used + value.Length > _bytes.Length)
        {
            Array.Resize(ref _bytes, Math.Max(_bytes.Length * 2, _used + value.Length));
        }

        value.CopyTo(_bytes.AsSpan(_used));
        var range = new ValueRange(_used, value.Length);
        _used += value.Length;
        return range;
    }

    internal ValueRange StoreString(ref Utf8JsonReader json)
    {
        if (!json.ValueIsEscaped)
        {
            return Store(json.ValueSpan);
        }

        var max = json.ValueSpan.Length;
        if (_used + max > _bytes.Length)
        {
            Array.Resize(ref _bytes, Math.Max(_bytes.Length * 2, _used + max));
        }

        var written = json.CopyString(_bytes.AsSpan(_used));
        var range = new ValueRange(_used, written);
        _used += written;
        return range;
    }

    internal int EntryCount => _entryCount;

    internal void AddEntry(int field, ValueRange value)
    {
        if (_entryCount == _entries.Length)
        {
            Array.Resize(ref _entries, _entries.Length * 2);
        }

        _entries[_entryCount++] = new FieldValue(field, value);
    }

    internal ref Candidate AddCandidate()
    {
        if (CandidateCount == _candidates.Length)
        {
            Array.Resize(ref _candidates, _candidates.Length * 2);
        }

        ref var c = ref _candidates[CandidateCount++];
        c = new Candidate { AdId = ValueRange.Missing, CampaignId = ValueRange.Missing, AdvertiserId = ValueRange.Missing, FeatureStart = _entryCount };
        return ref c;
    }

    internal readonly record struct FieldValue(int Field, ValueRange Value);

    internal struct Candidate
    {
        public ValueRange AdId;
        public ValueRange CampaignId;
        public ValueRange AdvertiserId;
        public int FeatureStart;
        public int FeatureCount;
    }
}

/// <summary>A (start, length) range of UTF-8 bytes; length -1 means missing.</summary>
internal readonly record struct ValueRange(int Start, int Length)
{
    public static ValueRange Missing => new(0, -1);

    public bool IsMissing => Length < 0;
}
