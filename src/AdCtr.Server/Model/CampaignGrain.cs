using AdCtr.Grains.Runtime;
using AdCtr.Learning.Ftrl;
using AdCtr.Learning.Models;

namespace AdCtr.Server.Model;

/// <summary>State of one campaign: its GLMix random-effect model and its traffic and quality statistics.</summary>
public sealed class CampaignState
{
    public string Id { get; set; } = "";

    public SparseFtrlModel? Model { get; set; }

    internal ProgressiveStats Stats { get; set; } = new();
}

/// <summary>
/// One campaign's model grain: learns its examples one write turn at a time (joint GLMix step: its sparse
/// model plus Hogwild updates of the shared global model), and serves its part of the logit through
/// interleaving reads. Written against the grain model only (OnActivateAsync, State, turns), so an Orleans
/// host could run it with Grain&lt;CampaignState&gt; and [ReadOnly] on the read methods.
/// </summary>
internal sealed class CampaignGrain(CtrEngine engine) : Grain<CampaignState>
{
    public override Task OnActivateAsync(CancellationToken cancellationToken)
    {
        if (State.Model is null)
        {
            State.Id = GetPrimaryKeyString();
            State.Model = engine.NewCampaignModel(State.Id);
        }

        return Task.CompletedTask;
    }

    /// <summary>The campaign model (read path; safe to use concurrently with a write turn).</summary>
    public SparseFtrlModel Model => State.Model!;

    /// <summary>A copy of the statistics (read path).</summary>
    public ProgressiveStats Statistics => State.Stats.Clone();

    /// <summary>Write turn: replaces the model and statistics (reload from a snapshot).</summary>
    public void Restore(SparseFtrlModel model, ProgressiveStats stats)
    {
        State.Model = model;
        State.Stats = stats;
    }

    /// <summary>Write turn: learns the examples of this campaign in <paramref name="work"/>.</summary>
    public void Learn(CampaignWork work)
    {
        var batch = work.Batch;
        var global = engine.Global;
        var model = State.Model!;
        var stats = State.Stats;
        var now = engine.Time.GetUtcNow().ToUnixTimeMilliseconds();
        foreach (var i in work.Rows)
        {
            var label = batch.Label(i);
            var weight = batch.Weight(i);
            var p = GlmixSpans.Learn(global, model, batch.GlobalIndices(i), batch.GlobalValues(i), batch.CampaignIndices(i), batch.CampaignValues(i), label, weight);
            stats.Add(p, label, weight, now);
            engine.RecordProgressive(p, label, weight);
        }
    }
}

/// <summary>The rows of a batch that belong to one campaign.</summary>
internal sealed class CampaignWork(ExampleBatch batch, string campaignId)
{
    public ExampleBatch Batch { get; } = batch;

    public string CampaignId { get; } = campaignId;

    public List<int> Rows { get; } = [];
}
