using System.Buffers;
using System.Runtime.CompilerServices;
using AdCtr.Learning.Features;
using AdCtr.Learning.Ftrl;

namespace AdCtr.Learning.Models;

/// <summary>
/// The GLMix composition (Zhang et al., "GLMix", KDD 2016), learned online: logit = global(x) + campaign_c(x).
/// Both parts are FTRL-Proximal models trained jointly on the same gradient (p - y) * weight; the campaign
/// part has its own (more strongly regularised) hyper-parameters, and a campaign never seen contributes 0.
/// </summary>
public static class Glmix
{
    /// <summary>Logistic function, clamped so that exp never overflows.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static double Sigmoid(double logit)
    {
        logit = Math.Clamp(logit, -35.0, 35.0);
        return 1.0 / (1.0 + Math.Exp(-logit));
    }

    /// <summary>The raw logit of an example; does not change either model.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static double PredictLogit(IFtrlModel global, IFtrlModel? campaign, EncodedExample x)
    {
        var logit = global.Dot(x.Global.Indices, x.Global.Values);
        if (campaign is not null && x.Campaign.Count > 0)
        {
            logit += campaign.Dot(x.Campaign.Indices, x.Campaign.Values);
        }

        return logit;
    }

    /// <summary>
    /// Predicts, then learns the example with label <paramref name="label"/> (0 or 1) and importance
    /// weight <paramref name="weight"/>. Returns the raw probability predicted before the update (the
    /// progressive-validation prediction, Blum, Kalai and Langford 1999).
    /// </summary>
    public static double Learn(IFtrlModel global, IFtrlModel? campaign, EncodedExample x, float label, float weight) =>
        GlmixSpans.Learn(global, campaign, x.Global.Indices, x.Global.Values, x.Campaign.Indices, x.Campaign.Values, label, weight);
}

/// <summary>
/// A whole GLMix model in one process (offline evaluation, experiments): one dense global model and a
/// sparse model per campaign key, created on first learn. Not thread-safe; the server uses grains instead.
/// </summary>
public sealed class GlmixModel
{
    private readonly Dictionary<ulong, SparseFtrlModel> _campaigns = [];

    public GlmixModel(int bits, FtrlParameters globalParameters, FtrlParameters campaignParameters, double campaignAdmission = 1.0)
    {
        Global = new DenseFtrlModel(bits, globalParameters);
        CampaignParameters = campaignParameters;
        CampaignAdmission = campaignAdmission;
        campaignParameters.Validate();
    }

    public DenseFtrlModel Global { get; }

    public FtrlParameters CampaignParameters { get; }

    public double CampaignAdmission { get; }

    public IReadOnlyDictionary<ulong, SparseFtrlModel> Campaigns => _campaigns;

    /// <summary>Raw probability (before calibration); a campaign never seen contributes 0.</summary>
    public double Predict(EncodedExample x)
    {
        SparseFtrlModel? campaign = null;
        if (x.HasCampaign)
        {
            _campaigns.TryGetValue(x.CampaignKey, out campaign);
        }

        return Glmix.Sigmoid(Glmix.PredictLogit(Global, campaign, x));
    }

    /// <summary>Learns one example; returns the raw probability predicted before the update.</summary>
    public double Learn(EncodedExample x, float label, float weight = 1f)
    {
        return Glmix.Learn(Global, x.HasCampaign ? CampaignFor(x.CampaignKey) : null, x, label, weight);
    }

    public SparseFtrlModel? CampaignOf(ulong key) => _campaigns.GetValueOrDefault(key);

    /// <summary>The model of a campaign, created (empty) on first use.</summary>
    public SparseFtrlModel CampaignFor(ulong key)
    {
        ref var slot = ref System.Runtime.InteropServices.CollectionsMarshal.GetValueRefOrAddDefault(_campaigns, key, out _);
        slot ??= new SparseFtrlModel(CampaignParameters, admissionProbability: CampaignAdmission, seed: key);
        return slot;
    }

    /// <summary>Adds a campaign model (snapshot loading).</summary>
    public void SetCampaign(ulong key, SparseFtrlModel model) => _campaigns[key] = model;

    public long CampaignMemoryBytes
    {
        get
        {
            long total = 0;
            foreach (var m in _campaigns.Values)
            {
                total += m.MemoryBytes;
            }

            return total;
        }
    }
}

/// <summary>Conversions between an in-process <see cref="GlmixModel"/> and a snapshot.</summary>
public static class GlmixModelSnapshots
{
    public static Snapshots.ModelSnapshot ToSnapshot(this GlmixModel model, FeatureSpec spec, long logPosition = 0, long version = 0, long createdUnixMs = 0)
    {
        var campaigns = new List<Snapshots.CampaignSnapshot>(model.Campaigns.Count);
        foreach (var (key, campaign) in model.Campaigns)
        {
            campaigns.Add(new Snapshots.CampaignSnapshot(key, string.Empty, campaign));
        }

        return new Snapshots.ModelSnapshot
        {
            HashSeed = spec.HashSeed,
            SpecFingerprint = spec.Fingerprint(),
            LogPosition = logPosition,
            Version = version,
            CreatedUnixMs = createdUnixMs,
            Global = model.Global,
            Campaigns = campaigns,
        };
    }

    public static GlmixModel ToModel(this Snapshots.ModelSnapshot snapshot, FtrlParameters campaignParameters, double campaignAdmission = 1.0)
    {
        var model = new GlmixModel(snapshot.Global.Bits, snapshot.Global.Parameters, campaignParameters, campaignAdmission);
        model.Global.CopyFrom(snapshot.Global);
        foreach (var campaign in snapshot.Campaigns)
        {
            model.SetCampaign(campaign.Key, campaign.Model);
        }

        return model;
    }
}

/// <summary>Span-based GLMix steps, for callers that keep encoded examples in flat batches.</summary>
public static class GlmixSpans
{
    private const int StackLimit = 512;

    /// <summary>The raw logit; <paramref name="campaign"/> null means a campaign never seen (contributes 0).</summary>
    public static double PredictLogit(IFtrlModel global, IFtrlModel? campaign, ReadOnlySpan<int> gi, ReadOnlySpan<float> gv, ReadOnlySpan<int> ci, ReadOnlySpan<float> cv)
    {
        var logit = global.Dot(gi, gv);
        if (campaign is not null && ci.Length > 0)
        {
            logit += campaign.Dot(ci, cv);
        }

        return logit;
    }

    /// <summary>Predict-then-learn on one example; returns the raw probability before the update.</summary>
    public static double Learn(IFtrlModel global, IFtrlModel? campaign, ReadOnlySpan<int> gi, ReadOnlySpan<float> gv, ReadOnlySpan<int> ci, ReadOnlySpan<float> cv, float label, float weight) =>
        Learn(global, campaign, gi, gv, ci, cv, label, weight, null);

    /// <summary>
    /// Predict-then-learn on one example with the global model's update deferred: the campaign model is updated in
    /// place, the global model is only read and its terms are appended to <paramref name="globalDeltas"/> (see
    /// <see cref="FtrlDeltas"/>), to be added by <see cref="DenseFtrlModel.Apply"/> when the caller's turn order says.
    /// </summary>
    public static double LearnDeferred(DenseFtrlModel global, IFtrlModel? campaign, ReadOnlySpan<int> gi, ReadOnlySpan<float> gv, ReadOnlySpan<int> ci, ReadOnlySpan<float> cv, float label, float weight, FtrlDeltas globalDeltas) =>
        Learn(global, campaign, gi, gv, ci, cv, label, weight, globalDeltas);

    private static double Learn(IFtrlModel global, IFtrlModel? campaign, ReadOnlySpan<int> gi, ReadOnlySpan<float> gv, ReadOnlySpan<int> ci, ReadOnlySpan<float> cv, float label, float weight, FtrlDeltas? globalDeltas)
    {
        if (campaign is null)
        {
            ci = default;
            cv = default;
        }

        var total = gi.Length + ci.Length;
        float[]? rented = null;
        // Exactly the length needed: the stack buffer is zeroed on entry, and 2 KiB per example was a visible
        // share of an eval run's time.
        var buffer = total <= StackLimit
            ? stackalloc float[total]
            : (rented = ArrayPool<float>.Shared.Rent(total));
        var gw = buffer.Slice(0, gi.Length);
        var cw = buffer.Slice(gi.Length, ci.Length);
        var logit = global.Dot(gi, gv, gw);
        if (campaign is not null)
        {
            logit += campaign.Dot(ci, cv, cw);
        }

        var p = Glmix.Sigmoid(logit);
        var g = (float)((p - label) * weight);
        if (globalDeltas is null)
        {
            global.Update(gi, gv, gw, g);
        }
        else
        {
            ((DenseFtrlModel)global).Defer(gi, gv, gw, g, globalDeltas);
        }

        campaign?.Update(ci, cv, cw, g);
        if (rented is not null)
        {
            ArrayPool<float>.Shared.Return(rented);
        }

        return p;
    }
}
