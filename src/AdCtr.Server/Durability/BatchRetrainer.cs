using AdCtr.Learning.Batch;
using AdCtr.Learning.Features;
using AdCtr.Learning.MLNet;
using AdCtr.Learning.Models;
using AdCtr.Server.Model;
using AdCtr.Server.Storage;
using Microsoft.Extensions.Options;

namespace AdCtr.Server.Durability;

/// <summary>A retraining request: the log window [From, To) (defaults: all retained, up to the end) and overrides of the options.</summary>
public sealed record RetrainRequest(long? From, long? To, int? MaxExamples, double? HoldoutFraction, double? L2, int? MaxIterations);

/// <summary>What a retraining did: the window, both holdout log losses, and whether the live model was replaced.</summary>
public sealed record RetrainResult(
    long From,
    long To,
    long Examples,
    long TrainExamples,
    long HoldoutExamples,
    double? LiveHoldoutLogLoss,
    double? CandidateHoldoutLogLoss,
    bool Swapped,
    string Reason,
    string Trainer,
    int ActiveFeatures,
    double TrainSeconds,
    long? SnapshotSequence);

/// <summary>
/// The batch job beside online learning: reads a window of the example log, trains the global model's logistic
/// regression with ML.NET's L-BFGS (<see cref="MlNetLogisticTrainer"/>, warm-started from the live global
/// weights: the intercept from the bias coordinate, every other weight from its coordinate), and evaluates before
/// swapping: on the most recent part of the window (held out, chronological), the
/// live model and the candidate are compared as they would serve, global plus the live campaign part. Only a
/// strictly lower weighted holdout log loss replaces the live global model; a snapshot is then written so the
/// swap survives a restart.
/// </summary>
/// <remarks>
/// The swap turns each batch weight w into FTRL state keeping the coordinate's n (its learning-rate history):
/// z = -w ((beta + sqrt(n)) / alpha + lambda2) - sign(w) lambda1, the inverse of McMahan et al. 2013's weight
/// formula, so online learning continues from the batch model. Online updates of the global model made while
/// the batch model trained are overwritten by the swap (campaign models keep theirs).
/// </remarks>
internal sealed class BatchRetrainer(CtrEngine engine, DurableState state, IngestionGate gate, DurabilityService durability, IOptions<DurabilityOptions> options)
{
    private const string TrainerName = "ML.NET LbfgsLogisticRegression";

    private readonly SemaphoreSlim _running = new(1, 1);

    public async Task<RetrainResult> RetrainAsync(RetrainRequest request, CancellationToken ct)
    {
        var log = state.Log ?? throw new ServiceClosingException();
        if (!await _running.WaitAsync(0, ct).ConfigureAwait(false))
        {
            throw new InvalidOperationException("a retraining is already running");
        }

        try
        {
            return await RunAsync(log, request, ct).ConfigureAwait(false);
        }
        finally
        {
            _running.Release();
        }
    }

    private async Task<RetrainResult> RunAsync(ExampleLog log, RetrainRequest request, CancellationToken ct)
    {
        var o = options.Value;
        var holdoutFraction = request.HoldoutFraction ?? o.RetrainHoldoutFraction;
        if (!(holdoutFraction > 0 && holdoutFraction < 1))
        {
            throw new ArgumentOutOfRangeException(nameof(request), "holdoutFraction must be in (0, 1)");
        }

        var segments = log.GetSegments();
        var from = new LogPosition(request.From ?? (segments.Count > 0 ? segments[0].FirstPosition.Value : 0));
        var to = new LogPosition(Math.Min(request.To ?? long.MaxValue, log.EndPosition.Value));
        var dimension = engine.Global.Dimension;

        // Every example of the window, in log order: global features, label, weight, and the live campaign logit.
        var all = new SparseDataset(dimension);
        var campaignLogits = new List<double>();
        var x = new EncodedExample();
        var reader = new LogExampleReader(engine, 1000);
        var maxExamples = request.MaxExamples ?? o.RetrainMaxExamples;
        await reader.ReadAsync(log, from, to, skipCorrupt: true, maxExamples, (batch, ids) =>
        {
            for (var i = 0; i < batch.Count; i++)
            {
                all.Add(batch.GlobalIndices(i), batch.GlobalValues(i), batch.Label(i) > 0 ? 1 : 0, batch.Weight(i));
                campaignLogits.Add(CampaignLogit(batch, i, ids, x));
            }

            return ValueTask.CompletedTask;
        }, ct).ConfigureAwait(false);

        var n = all.Rows;
        var holdout = (int)Math.Round(n * holdoutFraction);
        var trainRows = n - holdout;
        if (trainRows < 1 || holdout < 1)
        {
            return new RetrainResult(from.Value, to.Value, n, trainRows, holdout, null, null, false, "the window holds too few examples to train and hold out", TrainerName, 0, 0, null);
        }

        var train = new SparseDataset(dimension);
        for (var r = 0; r < trainRows; r++)
        {
            train.Add(all.RowIndices(r), all.RowValues(r), all.Label(r), all.Weight(r));
        }

        var warm = new float[dimension];
        for (var i = 0; i < dimension; i++)
        {
            warm[i] = engine.Global.WeightOf(i);
        }

        var trainer = new MlNetLogisticTrainer(new MlNetLogisticOptions
        {
            L2 = request.L2 ?? o.RetrainL2,
            MaxIterations = request.MaxIterations ?? o.RetrainMaxIterations,
        });
        var biasIndex = new FeatureEncoder(engine.Spec).BiasIndex;
        var model = await Task.Run(() => trainer.Train(train, biasIndex, warm, ct), ct).ConfigureAwait(false);

        double liveLoss = 0, candidateLoss = 0, weight = 0;
        for (var r = trainRows; r < n; r++)
        {
            var gi = all.RowIndices(r);
            var gv = all.RowValues(r);
            var c = all.Weight(r);
            var y = all.Label(r);
            var campaign = campaignLogits[r];
            liveLoss += c * LogLoss(Glmix.Sigmoid(engine.Global.Dot(gi, gv) + campaign), y);
            candidateLoss += c * LogLoss(Glmix.Sigmoid(model.PredictLogit(gi, gv) + campaign), y);
            weight += c;
        }

        liveLoss /= weight;
        candidateLoss /= weight;
        var swap = candidateLoss < liveLoss;
        long? sequence = null;
        if (swap)
        {
            using (await gate.QuiesceAsync(ct).ConfigureAwait(false))
            {
                Swap(model.Weights);
            }

            sequence = (await durability.SnapshotAsync(closeIngestion: false, ct).ConfigureAwait(false)).Sequence;
        }

        return new RetrainResult(
            from.Value,
            to.Value,
            n,
            trainRows,
            holdout,
            liveLoss,
            candidateLoss,
            swap,
            swap ? "the candidate's holdout log loss is lower: it replaced the live global model" : "the live model's holdout log loss is not worse: kept",
            TrainerName,
            model.ActiveFeatures,
            model.Seconds,
            sequence);
    }

    private double CampaignLogit(ExampleBatch batch, int i, IReadOnlyDictionary<ulong, string> ids, EncodedExample x)
    {
        if (!batch.HasCampaign(i) || !ids.TryGetValue(batch.CampaignKey(i), out var id) || engine.KnownCampaignId(batch.CampaignKey(i)) is null)
        {
            return 0;
        }

        x.Clear();
        var ci = batch.CampaignIndices(i);
        var cv = batch.CampaignValues(i);
        for (var k = 0; k < ci.Length; k++)
        {
            x.Campaign.Add(ci[k], cv[k]);
        }

        return engine.CampaignModelOrStored(batch.CampaignKey(i))?.Dot(x.Campaign.Indices, x.Campaign.Values) ?? 0;
    }

    private void Swap(float[] weights)
    {
        var global = engine.Global;
        var p = global.Parameters;
        for (var i = 0; i < weights.Length; i++)
        {
            global.TryGetState(i, out _, out var nState);
            var w = (double)weights[i];
            var z = w == 0 ? 0 : (-w * (((p.Beta + Math.Sqrt(nState)) / p.Alpha) + p.L2)) - (Math.Sign(w) * p.L1);
            global.SetState(i, (float)z, nState);
        }
    }

    private static double LogLoss(double p, int y)
    {
        var q = Math.Clamp(p, 1e-15, 1 - 1e-15);
        return y > 0 ? -Math.Log(q) : -Math.Log(1 - q);
    }
}
