using System.Collections.Concurrent;
using System.Text;
using AdCtr.Learning.Features;
using AdCtr.Learning.Ftrl;
using AdCtr.Learning.Models;

namespace AdCtr.Grains;

/// <summary>
/// The silo-local half of the model that campaign grains share: the global model (one dense FTRL table updated
/// Hogwild-style by every campaign turn, Recht et al. 2011: a single-writer global grain would put all ingestion
/// on one core and add a grain call per batch), the FTRL parameters of campaign models, the
/// <see cref="CampaignModelView"/>, and the registry of campaigns that have a model. One per silo, a singleton in
/// the silo's services; campaign grains get it injected.
/// </summary>
public sealed class SiloModel(DenseFtrlModel global, FtrlParameters campaignParameters, double campaignAdmission, TimeProvider time)
{
    private readonly ConcurrentDictionary<ulong, string> _known = new();

    public DenseFtrlModel Global { get; } = global;

    public FtrlParameters CampaignParameters { get; } = campaignParameters;

    public double CampaignAdmission { get; } = campaignAdmission;

    public TimeProvider Time { get; } = time;

    public CampaignModelView View { get; } = new();

    /// <summary>
    /// How often an active campaign grain checks whether predictions read its model, to delay its deactivation
    /// (half the activation collection age); null: never.
    /// </summary>
    public TimeSpan? KeepAlivePeriod { get; init; }

    /// <summary>
    /// In a cluster, the global-model terms learned here since the last exchange with the other silos
    /// (<see cref="GlobalSync.GlobalModelSync"/>); null on a single node.
    /// </summary>
    public GlobalSync.GlobalOutbox? Outbox { get; init; }

    [ThreadStatic]
    private static FtrlDeltas? t_terms;

    /// <summary>
    /// Predict-then-learn on one example into the global model and <paramref name="campaign"/> (null: none), in place;
    /// in a cluster the global model's terms also go to the <see cref="Outbox"/> (the same bits as the in-place update:
    /// <see cref="DenseFtrlModel.Defer"/> then <see cref="DenseFtrlModel.Apply"/>).
    /// </summary>
    public double Learn(SparseFtrlModel? campaign, ExampleBatch batch, int i)
    {
        if (Outbox is null)
        {
            return GlmixSpans.Learn(Global, campaign, batch.GlobalIndices(i), batch.GlobalValues(i), batch.CampaignIndices(i), batch.CampaignValues(i), batch.Label(i), batch.Weight(i));
        }

        var terms = t_terms ??= new FtrlDeltas(256);
        terms.Clear();
        var p = GlmixSpans.LearnDeferred(Global, campaign, batch.GlobalIndices(i), batch.GlobalValues(i), batch.CampaignIndices(i), batch.CampaignValues(i), batch.Label(i), batch.Weight(i), terms);
        Global.Apply(terms);
        Outbox.Add(terms);
        return p;
    }

    /// <summary>Receives every progressive (prediction, label, weight) of a learned example (calibration), or null.</summary>
    public IProgressiveObserver? Observer { get; set; }

    /// <summary>Campaigns that have a model (learned, stored or restored), by their 64-bit key.</summary>
    public int KnownCount => _known.Count;

    public IEnumerable<string> KnownIds => _known.Values;

    public static ulong KeyOf(string campaignId) => FeatureEncoder.CampaignKeyOf(Encoding.UTF8.GetBytes(campaignId));

    /// <summary>The id of a campaign that has a model, by its key; null for a campaign never learned.</summary>
    public string? KnownId(ulong key) => _known.GetValueOrDefault(key);

    public bool IsKnown(ulong key) => _known.ContainsKey(key);

    /// <summary>Marks a campaign as having (or about to have) a model.</summary>
    public void Register(ulong key, string id) => _known.TryAdd(key, id);

    /// <summary>Forgets every campaign (a reload registers the snapshot's).</summary>
    public void ClearKnown() => _known.Clear();

    /// <summary>An empty campaign model; its admission sampler is seeded by the campaign key, so runs repeat.</summary>
    public SparseFtrlModel NewCampaignModel(string campaignId) =>
        new(CampaignParameters, initialCapacity: 16, admissionProbability: CampaignAdmission, seed: KeyOf(campaignId));
}

/// <summary>Receives progressive predictions of learned examples (the calibrator's window).</summary>
public interface IProgressiveObserver
{
    void Record(double prediction, float label, float weight);
}
