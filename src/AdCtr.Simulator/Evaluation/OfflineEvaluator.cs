using System.Diagnostics;
using AdCtr.Learning.Batch;
using AdCtr.Learning.Evaluation;
using AdCtr.Learning.Features;
using AdCtr.Learning.Ftrl;
using AdCtr.Learning.Hashing;
using AdCtr.Learning.MLNet;
using AdCtr.Learning.Models;
using AdCtr.Learning.Readers;

namespace AdCtr.Simulator.Evaluation;

public enum EvalModel
{
    /// <summary>The GLMix FTRL-Proximal model, progressive validation.</summary>
    Online,

    /// <summary>ML.NET's L-BFGS logistic regression (<c>batch</c> or <c>mlnet-lr</c>).</summary>
    Batch,

    /// <summary>ML.NET's field-aware factorization machine (<c>mlnet-ffm</c>).</summary>
    Ffm,
}

public sealed class EvalSettings
{
    public required FeatureSpec Spec { get; init; }
    public EvalModel Model { get; init; } = EvalModel.Online;
    public double Holdout { get; init; } = 0.2;
    public bool Strict { get; init; }
    public FtrlParameters Global { get; init; } = FtrlParameters.GlobalDefault;
    public FtrlParameters Campaign { get; init; } = FtrlParameters.CampaignDefault;
    public double CampaignAdmission { get; init; } = 1.0;
    public double BatchL2 { get; init; } = 1.0;
    public int BatchMaxIterations { get; init; } = 100;

    /// <summary>1: read, encode and learn on one thread; 2: read and encode on a second thread (online only).</summary>
    public int Threads { get; init; } = 1;

    /// <summary>
    /// 1: learn strictly one row after another. N &gt; 1: learn each N rows as the server learns one posted batch of N
    /// (<see cref="BatchTurns"/>), so the model equals a server's that was posted the file in batches of N (online only;
    /// read, encoded and learned on one thread).
    /// </summary>
    public int Batch { get; init; } = 1;
}

public sealed record EvalResult(long Examples, double Seconds, BinaryMetrics? Progressive, BinaryMetrics Holdout, long HoldoutExamples, long MalformedLines, IReadOnlyList<MalformedLine> FirstMalformed);

/// <summary>
/// The offline evaluator behind <c>adctr-sim eval</c>. Online: one pass in file order, each row scored before
/// it is learned (progressive validation, Blum, Kalai and Langford 1999); the last <c>holdout</c> fraction
/// of rows is also accumulated as a holdout (and still learned after being scored). Batch: ML.NET L-BFGS (or FFM) on the
/// first 1 - holdout of the rows, scored on the rest. The holdout is the last <c>floor(lines * holdout)</c> lines of
/// the file. The online pass keeps every progressive prediction in order anyway (for the exact AUC), so it places
/// that boundary after the pass, when the reader has seen every line, and takes the holdout metrics from the
/// predictions after it (accumulated in the same order, so the figures are those of a separate accumulator).
/// The batch models need the boundary before training: they count the lines in a first pass (standard input is
/// first spooled to a temporary file for that).
/// </summary>
public static class OfflineEvaluator
{
    /// <summary>How many examples ahead the pipelined learner prefetches the global model's coordinates.</summary>
    private const int PrefetchDistance = 2;

    public static EvalResult Run(string path, LogFormat format, EvalSettings settings, Action<long>? progress = null, CancellationToken ct = default)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(settings.Holdout, 0.0);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(settings.Holdout, 1.0);
        string? spooled = null;
        try
        {
            var options = new ReaderOptions { Strict = settings.Strict };
            var stopwatch = Stopwatch.StartNew();
            if (settings.Model == EvalModel.Online)
            {
                var online = settings.Threads > 1 && settings.Batch <= 1
                    ? RunOnlinePipelined(path, format, settings, options, progress, ct)
                    : RunOnline(path, format, settings, options, progress, ct);
                return online with { Seconds = stopwatch.Elapsed.TotalSeconds };
            }

            if (path == ExampleReaders.StandardInput)
            {
                spooled = Path.GetTempFileName();
                using (var input = Console.OpenStandardInput())
                using (var file = File.Create(spooled))
                {
                    input.CopyTo(file);
                }

                path = spooled;
            }

            var lines = CountLines(path);
            var firstHoldoutLine = FirstHoldoutLine(lines, settings.Holdout);
            stopwatch.Restart();
            var result = settings.Model == EvalModel.Ffm
                ? RunFfm(path, format, settings, options, firstHoldoutLine, progress, ct)
                : RunBatch(path, format, settings, options, firstHoldoutLine, progress, ct);
            return result with { Seconds = stopwatch.Elapsed.TotalSeconds };
        }
        finally
        {
            if (spooled is not null)
            {
                File.Delete(spooled);
            }
        }
    }

    /// <summary>The first line of the holdout: the last <c>floor(lines * holdout)</c> lines are held out.</summary>
    public static long FirstHoldoutLine(long lines, double holdout) => lines - (long)Math.Floor(lines * holdout) + 1;

    /// <summary>The online pass's result: the holdout is the suffix of the progressive predictions from its first line on.</summary>
    private static EvalResult OnlineResult(long lineCount, ReaderStatistics statistics, EvalSettings s, MetricsAccumulator progressive, ExampleLines lines, long examples)
    {
        var firstHoldoutLine = FirstHoldoutLine(lineCount, s.Holdout);
        var (all, holdout) = progressive.ComputeWithSuffix(lines.FirstExampleAtOrAfter(firstHoldoutLine));
        return new EvalResult(examples, 0, all, holdout, holdout.Examples, statistics.MalformedLines, statistics.FirstMalformed);
    }

    private static EvalResult RunOnline(string path, LogFormat format, EvalSettings s, ReaderOptions options, Action<long>? progress, CancellationToken ct)
    {
        var spec = s.Spec;
        using var reader = ExampleReaders.OpenFile(path, format, spec, options);
        var encoder = new FeatureEncoder(spec);
        var model = new GlmixModel(spec.Bits, s.Global, s.Campaign, s.CampaignAdmission);
        var row = new RawRow(spec.Fields.Length);
        var x = new EncodedExample();
        var progressive = new MetricsAccumulator(EstimateLines(path));
        var lines = new ExampleLines();
        long examples = 0;
        if (s.Batch > 1)
        {
            var chunk = new EncodedChunk(s.Batch);
            var turns = new BatchTurns();
            while (reader.TryRead(row))
            {
                encoder.Encode(row, x);
                chunk.Add(x, row.Label, row.Weight, reader.LineNumber);
                if (chunk.IsFull)
                {
                    examples += LearnBatch(model, turns, chunk, progressive, lines);
                    ct.ThrowIfCancellationRequested();
                    progress?.Invoke(examples);
                }
            }

            examples += LearnBatch(model, turns, chunk, progressive, lines);
            return OnlineResult(reader.LineNumber, reader.Statistics, s, progressive, lines, examples);
        }

        while (reader.TryRead(row))
        {
            encoder.Encode(row, x);
            var p = model.Learn(x, row.Label, row.Weight);
            progressive.Add(p, row.Label > 0 ? 1 : 0, row.Weight);
            lines.Add(reader.LineNumber);

            if ((++examples & 0xFFFF) == 0)
            {
                ct.ThrowIfCancellationRequested();
                progress?.Invoke(examples);
            }
        }

        return OnlineResult(reader.LineNumber, reader.Statistics, s, progressive, lines, examples);
    }

    /// <summary>Learns a chunk as one posted batch, records its predictions in row order and empties it; returns its rows.</summary>
    private static int LearnBatch(GlmixModel model, BatchTurns turns, EncodedChunk chunk, MetricsAccumulator progressive, ExampleLines lines)
    {
        var count = chunk.Count;
        if (count == 0)
        {
            return 0;
        }

        var predictions = turns.Learn(model, chunk);
        for (var i = 0; i < count; i++)
        {
            progressive.Add(predictions[i], chunk.Labels[i] > 0 ? 1 : 0, chunk.Weights[i]);
            lines.Add(chunk.Lines[i]);
        }

        chunk.Clear();
        return count;
    }

    private static EvalResult RunOnlinePipelined(string path, LogFormat format, EvalSettings s, ReaderOptions options, Action<long>? progress, CancellationToken ct)
    {
        var spec = s.Spec;

        // Reading and encoding spread over this thread and a second one (EncodingPipeline); the chunks come back
        // here in file order to be learned. Started first, so that the second thread is already encoding while this
        // one allocates and zeroes the model's table.
        using var pipeline = EncodingPipeline.Start(path, format, spec, options, ct);
        var model = new GlmixModel(spec.Bits, s.Global, s.Campaign, s.CampaignAdmission);
        var progressive = new MetricsAccumulator(EstimateLines(path));
        var lines = new ExampleLines();
        long examples = 0;
        while (pipeline.TryNext(out var chunk))
        {
            for (var i = 0; i < chunk.Count; i++)
            {
                if (i + PrefetchDistance < chunk.Count)
                {
                    // The global table is 32 MiB at 22 bits: start the reads of a later example's
                    // coordinates now, so that their cache misses overlap this example's work.
                    model.Global.Prefetch(chunk.GlobalIndices(i + PrefetchDistance));
                }

                var campaign = chunk.HasCampaign[i] ? model.CampaignFor(chunk.CampaignKeys[i]) : null;
                var label = chunk.Labels[i];
                var weight = chunk.Weights[i];
                var p = GlmixSpans.Learn(model.Global, campaign, chunk.GlobalIndices(i), chunk.GlobalValues(i), chunk.CampaignIndices(i), chunk.CampaignValues(i), label, weight);
                progressive.Add(p, label > 0 ? 1 : 0, weight);
                lines.Add(chunk.Lines[i]);
            }

            examples += chunk.Count;
            progress?.Invoke(examples);
            pipeline.Recycle(chunk);
        }

        return OnlineResult(pipeline.LineNumber, pipeline.Statistics, s, progressive, lines, examples);
    }

    private static EvalResult RunBatch(string path, LogFormat format, EvalSettings s, ReaderOptions options, long firstHoldoutLine, Action<long>? progress, CancellationToken ct)
    {
        var spec = s.Spec;
        var encoder = new FeatureEncoder(spec);
        var row = new RawRow(spec.Fields.Length);
        var x = new EncodedExample();
        var combined = new FeatureVector();
        var data = new SparseDataset(1 << spec.Bits);
        long examples = 0;
        using (var reader = ExampleReaders.OpenFile(path, format, spec, options))
        {
            while (reader.TryRead(row) && reader.LineNumber < firstHoldoutLine)
            {
                encoder.Encode(row, x);
                Combine(x, combined, spec.Bits);
                data.Add(combined.Indices, combined.Values, row.Label > 0 ? 1 : 0, row.Weight);
                if ((++examples & 0xFFFF) == 0)
                {
                    ct.ThrowIfCancellationRequested();
                    progress?.Invoke(examples);
                }
            }
        }

        var trainer = new MlNetLogisticTrainer(new MlNetLogisticOptions { L2 = s.BatchL2, MaxIterations = s.BatchMaxIterations });
        var model = trainer.Train(data, encoder.BiasIndex, default, ct);
        var holdout = new MetricsAccumulator();
        using var scoring = ExampleReaders.OpenFile(path, format, spec, options);
        while (scoring.TryRead(row))
        {
            if (scoring.LineNumber < firstHoldoutLine)
            {
                continue;
            }

            encoder.Encode(row, x);
            Combine(x, combined, spec.Bits);
            holdout.Add(model.Predict(combined.Indices, combined.Values), row.Label > 0 ? 1 : 0, row.Weight);
            examples++;
        }

        return new EvalResult(examples, 0, null, holdout.Compute(), holdout.Count, scoring.Statistics.MalformedLines, scoring.Statistics.FirstMalformed);
    }

    /// <summary>ML.NET's field-aware factorization machine on the first 1 - holdout of the rows, scored on the rest.</summary>
    private static EvalResult RunFfm(string path, LogFormat format, EvalSettings s, ReaderOptions options, long firstHoldoutLine, Action<long>? progress, CancellationToken ct)
    {
        var spec = s.Spec;
        var encoder = new FeatureEncoder(spec);
        var row = new RawRow(spec.Fields.Length);
        var x = new EncodedExample();
        var fields = spec.Fields.Length;
        var values = new float[fields];
        var train = new FieldTable(fields);
        var holdoutRows = new FieldTable(fields);
        long examples = 0;
        using var reader = ExampleReaders.OpenFile(path, format, spec, options);
        while (reader.TryRead(row))
        {
            encoder.Encode(row, x);
            FieldNumbers(spec, row, values);
            (reader.LineNumber < firstHoldoutLine ? train : holdoutRows).Add(encoder.FieldHashes, values, row.Label > 0, row.Weight);
            if ((++examples & 0xFFFF) == 0)
            {
                ct.ThrowIfCancellationRequested();
                progress?.Invoke(examples);
            }
        }

        var model = new MlNetFfmTrainer().Train(train, ct);
        var logits = new double[holdoutRows.Count];
        model.PredictLogits(holdoutRows, logits);
        var holdout = new MetricsAccumulator();
        for (var r = 0; r < holdoutRows.Count; r++)
        {
            holdout.Add(Glmix.Sigmoid(logits[r]), holdoutRows.Label(r) ? 1 : 0, holdoutRows.Weight(r));
        }

        return new EvalResult(examples, 0, null, holdout.Compute(), holdout.Count, reader.Statistics.MalformedLines, reader.Statistics.FirstMalformed);
    }

    /// <summary>Per field: the number of a count or numeric field (0 when it does not parse), 1 otherwise.</summary>
    public static void FieldNumbers(FeatureSpec spec, RawRow row, Span<float> values)
    {
        for (var f = 0; f < values.Length; f++)
        {
            values[f] = 1;
            if (spec.Fields[f].Kind is FieldKind.Count or FieldKind.Numeric && row.IsPresent(f))
            {
                values[f] = System.Buffers.Text.Utf8Parser.TryParse(row.Get(f), out double d, out var used) && used == row.Get(f).Length && double.IsFinite(d) ? (float)d : 0;
            }
        }
    }

    /// <summary>
    /// One feature vector for a batch logistic regression: the global features as they are, and each campaign
    /// feature re-hashed with its campaign key into the same space (a per-campaign copy of the coordinate).
    /// </summary>
    public static void Combine(EncodedExample x, FeatureVector output, int bits)
    {
        output.CopyFrom(x.Global);
        if (!x.HasCampaign)
        {
            return;
        }

        var mask = (uint)((1 << bits) - 1);
        var salt = (uint)x.CampaignKey ^ (uint)(x.CampaignKey >> 32);
        var indices = x.Campaign.Indices;
        var values = x.Campaign.Values;
        for (var i = 0; i < indices.Length; i++)
        {
            output.Add((int)(MurmurHash3.Hash32((uint)indices[i], salt, 0xC0FFEE) & mask), values[i]);
        }
    }

    /// <summary>
    /// About how many lines a file has, from its length and the line length of its first MiB (0 when unknown:
    /// standard input, gzip, an empty file), with 5 % to spare and at most 64M: the capacity to give the
    /// accumulator of the progressive predictions, so that it does not grow (and copy) 2M predictions by doubling.
    /// </summary>
    internal static int EstimateLines(string path)
    {
        const long MaxEstimate = 64L << 20;
        if (path == ExampleReaders.StandardInput || path.EndsWith(".gz", StringComparison.OrdinalIgnoreCase))
        {
            return 0;
        }

        using var stream = ExampleReaders.OpenStream(path);
        if (!stream.CanSeek)
        {
            return 0;
        }

        var length = stream.Length;
        var sample = new byte[(int)Math.Min(length, 1 << 20)];
        var read = stream.ReadAtLeast(sample, sample.Length, throwOnEndOfStream: false);
        var lines = sample.AsSpan(0, read).Count((byte)'\n');
        if (read == 0 || lines == 0)
        {
            return 0;
        }

        return (int)Math.Min(MaxEstimate, (long)((double)length * lines / read * 1.05) + 64);
    }

    /// <summary>Number of lines in a file (the last one may lack a newline).</summary>
    public static long CountLines(string path)
    {
        using var stream = ExampleReaders.OpenStream(path);
        var buffer = new byte[1 << 20];
        long lines = 0;
        var last = (byte)'\n';
        int read;
        while ((read = stream.Read(buffer)) > 0)
        {
            lines += buffer.AsSpan(0, read).Count((byte)'\n');
            last = buffer[read - 1];
        }

        return last == (byte)'\n' ? lines : lines + 1;
    }
}
