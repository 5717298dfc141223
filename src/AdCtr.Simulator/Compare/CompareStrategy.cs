using System.Diagnostics;
using AdCtr.Learning.Batch;
using AdCtr.Learning.Features;
using AdCtr.Learning.Ftrl;
using AdCtr.Learning.MLNet;
using AdCtr.Learning.Models;

namespace AdCtr.Simulator.Compare;

/// <summary>
/// One strategy's model state over the shared stream. <see cref="Process"/> walks a block in time order: during
/// the warm-up (the first W hours) it only prepares (online models learn); afterwards each example is scored
/// with the current model before the strategy learns from it or retrains past it. One thread at a time.
/// </summary>
public abstract class CompareStrategy
{
    private long _ticks;

    protected CompareStrategy(StrategySpec spec, CompareSettings settings)
    {
        Spec = spec;
        Settings = settings;
        Score = new StrategyScore(settings.EvalWindowHours, settings.TableWindowHours);
    }

    public StrategySpec Spec { get; }

    public StrategyScore Score { get; }

    protected CompareSettings Settings { get; }

    /// <summary>Number of batch trainings run.</summary>
    public int Retrains { get; protected set; }

    /// <summary>Wall-clock seconds spent in batch training (building the training set and L-BFGS).</summary>
    public double TrainSeconds { get; protected set; }

    /// <summary>The longest single batch training, in seconds.</summary>
    public double MaxTrainSeconds { get; private set; }

    /// <summary>Counts one batch training of <paramref name="seconds"/>.</summary>
    protected void CountRetrain(double seconds)
    {
        Retrains++;
        TrainSeconds += seconds;
        MaxTrainSeconds = Math.Max(MaxTrainSeconds, seconds);
    }

    /// <summary>Trainings that stopped before their convergence criterion (ML.NET does not report it: 0).</summary>
    public int UnconvergedRetrains { get; protected set; }

    /// <summary>Wall-clock seconds spent in <see cref="Process"/>: scoring, online learning and retraining.</summary>
    public double Seconds => Stopwatch.GetElapsedTime(0, _ticks).TotalSeconds;

    public static CompareStrategy Create(StrategySpec spec, CompareSettings settings, int biasIndex) => spec.Kind switch
    {
        StrategyKind.Online => new OnlineStrategy(spec, settings),
        StrategyKind.BatchFfm => new FfmStrategy(spec, settings),
        StrategyKind.TreesOnline => new TreesOnlineStrategy(spec, settings),
        _ => new BatchStrategy(spec, settings, biasIndex),
    };

    /// <summary>Runs the strategy over <paramref name="block"/>; <paramref name="history"/> holds the earlier blocks.</summary>
    public void Process(ExampleBlock block, ExampleHistory history, double warmupEnd)
    {
        var started = Stopwatch.GetTimestamp();
        for (var i = 0; i < block.Count; i++)
        {
            var hours = block.Hours[i];
            if (hours < warmupEnd)
            {
                WarmUp(block, i);
                continue;
            }

            BeforeScoring(block, i, history);
            var p = ScoreAndLearn(block, i);
            Score.Add(p, block.Labels[i], block.Weights[i], block.Truth[i], hours);
        }

        _ticks += Stopwatch.GetTimestamp() - started;
    }

    /// <summary>Warm-up step for example i (not scored).</summary>
    protected abstract void WarmUp(ExampleBlock block, int i);

    /// <summary>Retrains if a retrain falls due at or before example i.</summary>
    protected abstract void BeforeScoring(ExampleBlock block, int i, ExampleHistory history);

    /// <summary>The progressive prediction of example i, then any online learning from it.</summary>
    protected abstract double ScoreAndLearn(ExampleBlock block, int i);
}

/// <summary>
/// <c>online</c>: the project's GLMix model (global FTRL-Proximal + one per campaign, McMahan et al. 2013;
/// Zhang et al. 2016) learning every example as it arrives, warm-up included.
/// </summary>
internal sealed class OnlineStrategy(StrategySpec spec, CompareSettings settings) : CompareStrategy(spec, settings)
{
    private readonly GlmixModel _model = new(settings.Spec.Bits, settings.Global, settings.Campaign);

    protected override void WarmUp(ExampleBlock block, int i) => Learn(block, i);

    protected override void BeforeScoring(ExampleBlock block, int i, ExampleHistory history)
    {
    }

    protected override double ScoreAndLearn(ExampleBlock block, int i) => Learn(block, i);

    private double Learn(ExampleBlock block, int i)
    {
        var start = block.Start[i];
        var g = block.GlobalCount[i];
        var c = block.Start[i + 1] - start - g;
        SparseFtrlModel? campaign = null;
        if (block.HasCampaign[i])
        {
            var key = block.CampaignKeys[i];
            campaign = _model.CampaignOf(key);
            if (campaign is null)
            {
                campaign = new SparseFtrlModel(_model.CampaignParameters, admissionProbability: _model.CampaignAdmission, seed: key);
                _model.SetCampaign(key, campaign);
            }
        }

        return GlmixSpans.Learn(
            _model.Global,
            campaign,
            block.Indices.AsSpan(start, g),
            block.Values.AsSpan(start, g),
            block.CampaignIndices.AsSpan(start + g, c),
            block.Values.AsSpan(start + g, c),
            block.Labels[i],
            block.Weights[i]);
    }
}

/// <summary>
/// <c>batch:T</c>, <c>batch:T+online</c> and <c>frozen</c>: an L2 logistic regression over the combined features
/// trained by ML.NET's L-BFGS (<see cref="MlNetLogisticTrainer"/>) on the examples of [t - W, t) at t = W, W + T, W + 2T,
/// ... (frozen: at t = W only), serving the frozen weights in between. <c>batch:T</c> starts every training from
/// zero. <c>batch:T+online</c> warm-starts each training from its current model (batch weights + correction) and,
/// between retrains, learns an FTRL-Proximal correction over the same features on top of the batch logit
/// (logit = batch(x) + correction(x); the correction restarts from zero after each retrain, since the new batch
/// model has absorbed what it had learned).
/// </summary>
internal sealed class BatchStrategy : CompareStrategy
{
    private readonly MlNetLogisticTrainer _trainer;
    private readonly int _dimension;
    private readonly bool _online;
    private readonly bool _once;
    private readonly int _biasIndex;
    private LinearModel? _model;
    private DenseFtrlModel? _correction;
    private float[] _weights = new float[64];
    private double _nextRetrain = double.NaN;

    public BatchStrategy(StrategySpec spec, CompareSettings settings, int biasIndex)
        : base(spec, settings)
    {
        _online = spec.Kind == StrategyKind.BatchOnline;
        _once = spec.Kind == StrategyKind.Frozen;
        _dimension = 1 << settings.Spec.Bits;
        _biasIndex = biasIndex;
        _trainer = new MlNetLogisticTrainer(new MlNetLogisticOptions
        {
            L2 = settings.BatchL2,
            MaxIterations = settings.BatchMaxIterations,

            // Fixed rather than the processor count, so that the report is the same on every machine.
            Threads = 2,
        });
    }

    protected override void WarmUp(ExampleBlock block, int i)
    {
    }

    protected override void BeforeScoring(ExampleBlock block, int i, ExampleHistory history)
    {
        var hours = block.Hours[i];
        var w = Settings.TrainWindowHours;
        if (_model is null)
        {
            // The first training, at the end of the warm-up, on [0, W).
            Train(history, block, i, w);
            _nextRetrain = _once ? double.PositiveInfinity : w + Spec.RetrainHours;
        }

        if (hours >= _nextRetrain)
        {
            // The latest due time t = W + kT <= hours (one training even if the stream skipped several).
            var t = w + (Math.Floor((hours - w) / Spec.RetrainHours) * Spec.RetrainHours);
            Train(history, block, i, t);
            _nextRetrain = t + Spec.RetrainHours;
        }
    }

    protected override double ScoreAndLearn(ExampleBlock block, int i)
    {
        var idx = block.CombinedIndices(i);
        var val = block.CombinedValues(i);
        var logit = _model!.PredictLogit(idx, val);
        if (!_online)
        {
            return Glmix.Sigmoid(logit);
        }

        // Online correction on top of the frozen batch logit: one FTRL-Proximal step with g = (p - y) * weight.
        if (_weights.Length < idx.Length)
        {
            _weights = new float[Math.Max(idx.Length, _weights.Length * 2)];
        }

        var weights = _weights.AsSpan(0, idx.Length);
        logit += _correction!.Dot(idx, val, weights);
        var p = Glmix.Sigmoid(logit);
        _correction.Update(idx, val, weights, (float)((p - block.Labels[i]) * block.Weights[i]));
        return p;
    }

    /// <summary>log(ctr / (1 - ctr)) of the weighted click rate, clamped to [-15, 15]; 0 for an empty set.</summary>
    private static double BaseLogit(SparseDataset data)
    {
        double clicks = 0;
        for (var r = 0; r < data.Rows; r++)
        {
            clicks += data.Label(r) * data.Weight(r);
        }

        if (!(data.WeightSum > 0))
        {
            return 0;
        }

        var ctr = Math.Clamp(clicks / data.WeightSum, 1e-7, 1 - 1e-7);
        return Math.Log(ctr / (1 - ctr));
    }

    private void Train(ExampleHistory history, ExampleBlock block, int limit, double t)
    {
        var started = Stopwatch.GetTimestamp();
        var data = history.BuildDataset(_dimension, t - Settings.TrainWindowHours, t, block, limit);
        float[] warm;
        if (_online && _model is not null)
        {
            warm = (float[])_model.Weights.Clone();
            for (var j = 0; j < warm.Length; j++)
            {
                warm[j] += _correction!.WeightOf(j);
            }
        }
        else
        {
            // From scratch: every weight 0 except the bias at the log-odds of the window's CTR. Starting the bias
            // at 0 instead lets L-BFGS share the intercept with features present in every row of the window (the
            // weekday of a 24-hour window), a split the small L2 corrects only slowly; the next day's weekday is
            // then unseen and the model is off by that share.
            warm = new float[_dimension];
            warm[_biasIndex] = (float)BaseLogit(data);
        }

        _model = _trainer.Train(data, _biasIndex, warm);

        if (_online)
        {
            _correction = new DenseFtrlModel(Settings.Spec.Bits, Settings.Global);
        }

        CountRetrain(Stopwatch.GetElapsedTime(started).TotalSeconds);
    }
}

/// <summary>
/// Retrain schedule shared by the field-aware strategies: the first training at the end of the warm-up on [0, W),
/// then at t = W + kT on [t - W, t).
/// </summary>
internal abstract class ScheduledStrategy(StrategySpec spec, CompareSettings settings) : CompareStrategy(spec, settings)
{
    private double _nextRetrain = double.NaN;

    protected bool Trained => !double.IsNaN(_nextRetrain);

    protected override void BeforeScoring(ExampleBlock block, int i, ExampleHistory history)
    {
        var hours = block.Hours[i];
        var w = Settings.TrainWindowHours;
        if (!Trained)
        {
            Train(history, block, i, w);
            _nextRetrain = w + Spec.RetrainHours;
        }

        if (hours >= _nextRetrain)
        {
            var t = w + (Math.Floor((hours - w) / Spec.RetrainHours) * Spec.RetrainHours);
            Train(history, block, i, t);
            _nextRetrain = t + Spec.RetrainHours;
        }
    }

    private void Train(ExampleHistory history, ExampleBlock block, int limit, double t)
    {
        var started = Stopwatch.GetTimestamp();
        var table = history.BuildFieldTable(block.Fields, t - Settings.TrainWindowHours, t, block, limit);
        Train(table);
        CountRetrain(Stopwatch.GetElapsedTime(started).TotalSeconds);
    }

    /// <summary>Trains the strategy's batch model on the window's examples.</summary>
    protected abstract void Train(FieldTable window);
}

/// <summary>
/// <c>batch:T:ffm</c>: ML.NET's field-aware factorization machine (<see cref="MlNetFfmTrainer"/>) over the spec's
/// fields, retrained every T hours on the last W hours, frozen in between. Its predictions are computed by ML.NET
/// for the rest of a block at once whenever the block or the model changes.
/// </summary>
internal sealed class FfmStrategy(StrategySpec spec, CompareSettings settings) : ScheduledStrategy(spec, settings)
{
    private readonly MlNetFfmTrainer _trainer = new(new MlNetFfmOptions());
    private FfmModel? _model;
    private double[] _logits = [];
    private ExampleBlock? _scoredBlock;
    private FfmModel? _scoredModel;
    private int _scoredFrom;

    protected override void WarmUp(ExampleBlock block, int i)
    {
    }

    protected override void Train(FieldTable window) => _model = _trainer.Train(window);

    protected override double ScoreAndLearn(ExampleBlock block, int i)
    {
        if (!ReferenceEquals(block, _scoredBlock) || !ReferenceEquals(_model, _scoredModel) || i < _scoredFrom)
        {
            var rest = new FieldTable(block.Fields);
            for (var k = i; k < block.Count; k++)
            {
                rest.Add(block.KeysOf(k), block.ValuesOf(k), block.Labels[k] > 0, block.Weights[k]);
            }

            if (_logits.Length < block.Capacity)
            {
                _logits = new double[block.Capacity];
            }

            _model!.PredictLogits(rest, _logits.AsSpan(i, block.Count - i));
            _scoredBlock = block;
            _scoredModel = _model;
            _scoredFrom = i;
        }

        return Glmix.Sigmoid(_logits[i]);
    }
}

/// <summary>
/// <c>trees:T+online</c> (He et al. 2014, section 3): boosted trees (ML.NET FastTree, <see cref="TreeFeaturizer"/>)
/// retrained every T hours on the last W hours over the count and low-cardinality fields; the leaf each example
/// reaches in each tree is a hashed feature (<see cref="TreeEnsemble.LeafFeature"/>) added to the global part of the
/// online GLMix model, which learns every example (warm-up included, without leaf features before the first trees).
/// </summary>
internal sealed class TreesOnlineStrategy : ScheduledStrategy
{
    private readonly GlmixModel _model;
    private readonly TreeFeaturizer _featurizer = new(new TreeFeaturizerOptions());
    private readonly bool[] _numeric;
    private TreeEnsemble? _trees;
    private int _generation;
    private int[] _indices = new int[256];
    private float[] _values = new float[256];
    private float[] _inputs = [];

    public TreesOnlineStrategy(StrategySpec spec, CompareSettings settings)
        : base(spec, settings)
    {
        _model = new GlmixModel(settings.Spec.Bits, settings.Global, settings.Campaign, settings.CampaignAdmission);
        var fields = settings.Spec.Fields;
        _numeric = new bool[fields.Length];
        for (var f = 0; f < fields.Length; f++)
        {
            _numeric[f] = fields[f].Kind is FieldKind.Count or FieldKind.Numeric;
        }
    }

    /// <summary>Trees of the current model (for tests).</summary>
    public TreeEnsemble? Trees => _trees;

    protected override void WarmUp(ExampleBlock block, int i) => Learn(block, i);

    protected override double ScoreAndLearn(ExampleBlock block, int i) => Learn(block, i);

    protected override void Train(FieldTable window)
    {
        _trees = _featurizer.Train(window, _numeric, ++_generation);
        _inputs = new float[Math.Max(_trees.Layout.Inputs, 1)];
    }

    private double Learn(ExampleBlock block, int i)
    {
        var start = block.Start[i];
        var g = block.GlobalCount[i];
        var c = block.Start[i + 1] - start - g;
        var extra = _trees?.Trees ?? 0;
        if (_indices.Length < g + extra)
        {
            _indices = new int[(g + extra) * 2];
            _values = new float[_indices.Length];
        }

        block.Indices.AsSpan(start, g).CopyTo(_indices);
        block.Values.AsSpan(start, g).CopyTo(_values);
        if (_trees is not null)
        {
            _trees.AppendLeafFeatures(block.KeysOf(i), block.ValuesOf(i), _inputs, Settings.Spec.HashSeed, Settings.Spec.Bits, _indices.AsSpan(g), _values.AsSpan(g));
        }

        SparseFtrlModel? campaign = null;
        if (block.HasCampaign[i])
        {
            var key = block.CampaignKeys[i];
            campaign = _model.CampaignOf(key);
            if (campaign is null)
            {
                campaign = new SparseFtrlModel(_model.CampaignParameters, admissionProbability: _model.CampaignAdmission, seed: key);
                _model.SetCampaign(key, campaign);
            }
        }

        return GlmixSpans.Learn(
            _model.Global,
            campaign,
            _indices.AsSpan(0, g + extra),
            _values.AsSpan(0, g + extra),
            block.CampaignIndices.AsSpan(start + g, c),
            block.Values.AsSpan(start + g, c),
            block.Labels[i],
            block.Weights[i]);
    }
}
