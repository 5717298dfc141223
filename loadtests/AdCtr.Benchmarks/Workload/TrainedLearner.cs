using AdCtr.Learning.Features;
using AdCtr.Learning.Ftrl;
using AdCtr.Learning.Models;

namespace AdCtr.Benchmarks.Workload;

/// <summary>
/// The state every learner benchmark starts from: a <see cref="GlmixModel"/> (dense 2^22 global part,
/// sparse campaign parts) pre-trained on a stream of <see cref="PretrainExamples"/> Criteo-like examples,
/// and a pool of distinct examples drawn after it and learned once, so that the measured loops find
/// non-zero weights, touch random slots of the 32 MiB global table, and never insert into a campaign table.
/// </summary>
internal sealed class TrainedLearner
{
    public const int PretrainExamples = 200_000;

    private TrainedLearner(CriteoLikeWorkload workload, FeatureEncoder encoder, GlmixModel model)
    {
        Workload = workload;
        Encoder = encoder;
        Model = model;
    }

    public CriteoLikeWorkload Workload { get; }

    public FeatureEncoder Encoder { get; }

    public GlmixModel Model { get; }

    public RawRow[] Rows { get; private set; } = [];

    public EncodedExample[] Encoded { get; private set; } = [];

    public float[] Labels { get; private set; } = [];

    /// <summary>
    /// Pre-trains, then draws a pool of <paramref name="poolSize"/> examples in requests of
    /// <paramref name="candidatesPerRequest"/> candidates (shared context, distinct ads).
    /// </summary>
    public static TrainedLearner Create(int poolSize, int candidatesPerRequest = 1, ulong seed = 20240601)
    {
        var workload = new CriteoLikeWorkload(seed);
        var encoder = new FeatureEncoder(workload.Spec);
        var model = new GlmixModel(CriteoLikeWorkload.Bits, FtrlParameters.GlobalDefault, FtrlParameters.CampaignDefault);
        var learner = new TrainedLearner(workload, encoder, model);

        var row = new RawRow(workload.Spec.Fields.Length, 256);
        var x = new EncodedExample();
        for (var i = 0; i < PretrainExamples; i++)
        {
            workload.Next(row);
            encoder.Encode(row, x);
            model.Learn(x, row.Label);
        }

        learner.DrawPool(poolSize, candidatesPerRequest);
        return learner;
    }

    private void DrawPool(int poolSize, int candidatesPerRequest)
    {
        Rows = new RawRow[poolSize];
        Encoded = new EncodedExample[poolSize];
        Labels = new float[poolSize];
        for (var i = 0; i < poolSize; i++)
        {
            var row = new RawRow(Workload.Spec.Fields.Length, 256);
            Workload.Next(row, newContext: i % candidatesPerRequest == 0);
            var x = new EncodedExample();
            Encoder.Encode(row, x);
            if (x.Global.Count != CriteoLikeWorkload.GlobalFeatures || x.Campaign.Count != CriteoLikeWorkload.CampaignFeatures || !x.HasCampaign)
            {
                throw new InvalidOperationException($"example {i} has {x.Global.Count} global and {x.Campaign.Count} campaign features");
            }

            Model.Learn(x, row.Label);
            Rows[i] = row;
            Encoded[i] = x;
            Labels[i] = row.Label;
        }
    }

    /// <summary>One line describing the trained state (printed in the benchmark log, quoted in the README).</summary>
    public string Describe()
    {
        long active = 0, nonZero = 0, campaignCoordinates = 0;
        var distinct = new HashSet<int>();
        foreach (var x in Encoded)
        {
            foreach (var index in x.Global.Indices)
            {
                active++;
                distinct.Add(index);
                if (Model.Global.WeightOf(index) != 0f)
                {
                    nonZero++;
                }
            }
        }

        foreach (var campaign in Model.Campaigns.Values)
        {
            campaignCoordinates += campaign.Coordinates;
        }

        var clicks = 0.0;
        foreach (var label in Labels)
        {
            clicks += label;
        }

        return FormattableString.Invariant(
            $"pool {Encoded.Length} examples, CTR {clicks / Labels.Length:P1}; global: {Model.Global.Coordinates} coordinates touched of {Model.Global.Dimension}, pool uses {distinct.Count} distinct slots, {100.0 * nonZero / active:F1}% of active weights non-zero; {Model.Campaigns.Count} campaigns, {campaignCoordinates} campaign coordinates, {Model.CampaignMemoryBytes >> 20} MiB");
    }
}
