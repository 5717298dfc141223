using System.CommandLine;
using System.Globalization;
using System.Text;
using System.Text.Json;
using AdCtr.Learning.Evaluation;
using AdCtr.Learning.Features;
using AdCtr.Learning.Readers;
using AdCtr.Simulator.Evaluation;

namespace AdCtr.Simulator.Commands;

/// <summary>
/// <c>adctr-sim eval --data FILE --format criteo|avazu|ndjson [--spec FILE] [--bits N] [--model online|batch]
/// [--holdout 0.2] [--json] [--strict] [--config FILE] [--set KEY=VALUE]...</c>: offline evaluation of the learner on
/// a log, with the server's model hyper-parameters (<see cref="ModelConfig"/>: config/appsettings.json's AdCtr:Model).
/// </summary>
public static class EvalCommand
{
    public static Command Create()
    {
        var data = new Option<string>("--data") { Description = "Log file ('-' = standard input, '.gz' = gzip)", Required = true };
        var format = new Option<string>("--format") { Description = "criteo, avazu, ndjson or csv (csv needs --spec with \"label\")", Required = true };
        format.AcceptOnlyFromAmong("criteo", "avazu", "ndjson", "csv");
        var spec = new Option<string?>("--spec") { Description = "Feature spec JSON (default config/features.FORMAT.json; ndjson uses features.sim.json; required for csv)" };
        var bits = new Option<int?>("--bits") { Description = "Hash bits, 18..28 (default: the spec's)" };
        var model = new Option<string>("--model") { Description = "online (FTRL-Proximal, progressive validation), batch or mlnet-lr (ML.NET L-BFGS logistic regression), mlnet-ffm (ML.NET field-aware factorization machine)", DefaultValueFactory = _ => "online" };
        model.AcceptOnlyFromAmong("online", "batch", "mlnet-lr", "mlnet-ffm");
        var holdout = new Option<double>("--holdout") { Description = "Fraction of the last rows scored as a holdout, in [0, 1)", DefaultValueFactory = _ => 0.2 };
        holdout.Validators.Add(r =>
        {
            if (r.Tokens.Count > 0 && double.TryParse(r.Tokens[^1].Value, NumberStyles.Float, CultureInfo.InvariantCulture, out var h) && !(h >= 0 && h < 1))
            {
                r.AddError("--holdout must be in [0, 1)");
            }
        });
        var json = new Option<bool>("--json") { Description = "Print exactly one JSON object on standard output" };
        var strict = new Option<bool>("--strict") { Description = "A malformed line is an error (exit 1) instead of being counted and skipped" };
        var alpha = new Option<double?>("--alpha") { Description = "FTRL alpha of the global model (default: the configuration's)" };
        var l1 = new Option<double?>("--l1") { Description = "FTRL L1 of the global model (default: the configuration's)" };
        var config = ModelConfig.ConfigOption();
        var set = ModelConfig.SetOption();
        var threads = new Option<int>("--threads") { Description = "2 (default): read and encode on a second thread, learn on this one (online model); 1: all on one thread", DefaultValueFactory = _ => 2 };
        threads.AcceptOnlyFromAmong("1", "2");
        var batch = new Option<int>("--batch") { Description = "1 (default): learn row after row; N: learn each N rows as the server learns one posted batch of N (its model then equals the server's)", DefaultValueFactory = _ => 1 };
        batch.Validators.Add(r =>
        {
            if (r.Tokens.Count > 0 && int.TryParse(r.Tokens[^1].Value, NumberStyles.Integer, CultureInfo.InvariantCulture, out var n) && n is < 1 or > 100_000)
            {
                r.AddError("--batch must be in 1..100000");
            }
        });
        var l2 = new Option<double?>("--l2") { Description = "L2 of the global model (FTRL) and of the batch model (default: the configuration's global L2)" };

        var command = new Command("eval", "Evaluate the online (FTRL-Proximal) learner or an ML.NET batch learner on a log")
        {
            data, format, spec, bits, model, holdout, json, strict, alpha, l1, l2, threads, batch, config, set,
        };
        command.SetAction(r =>
        {
            ModelSettings settings;
            try
            {
                settings = ModelConfig.Load(r.GetValue(config), r.GetValue(set)).WithGlobal(r.GetValue(alpha), r.GetValue(l1), r.GetValue(l2));
            }
            catch (ArgumentException e)
            {
                r.InvocationConfiguration.Error.WriteLine("adctr-sim: " + Program.OneLine(e.Message));
                return Program.UsageError;
            }

            return Execute(
                r.GetRequiredValue(data),
                r.GetRequiredValue(format),
                r.GetValue(spec),
                r.GetValue(bits),
                r.GetValue(model) switch
                {
                    "batch" or "mlnet-lr" => EvalModel.Batch,
                    "mlnet-ffm" => EvalModel.Ffm,
                    _ => EvalModel.Online,
                },
                r.GetValue(holdout),
                r.GetValue(json),
                r.GetValue(strict),
                settings,
                r.GetValue(threads),
                r.InvocationConfiguration.Output,
                r.InvocationConfiguration.Error,
                r.GetValue(batch));
        });
        return command;
    }

    public static int Execute(string data, string formatName, string? specPath, int? bits, EvalModel model, double holdout, bool json, bool strict, ModelSettings modelSettings, int threads, TextWriter stdout, TextWriter stderr, int batch = 1)
    {
        SpecResolver.TryParseFormat(formatName, out var format);
        FeatureSpec spec;
        var global = modelSettings.Global;
        try
        {
            global.Validate();
            modelSettings.Campaign.Validate();
            spec = SpecResolver.Resolve(specPath, format, bits ?? modelSettings.Bits);
        }
        catch (Exception e) when (e is FeatureSpecException or ArgumentOutOfRangeException)
        {
            stderr.WriteLine("adctr-sim: " + Program.OneLine(e.Message));
            return Program.UsageError;
        }

        if (data != ExampleReaders.StandardInput && !File.Exists(data))
        {
            stderr.WriteLine("adctr-sim: cannot read '" + data + "': no such file");
            return Program.UsageError;
        }

        var settings = new EvalSettings { Spec = spec, Model = model, Holdout = holdout, Strict = strict, Global = global, Campaign = modelSettings.Campaign, CampaignAdmission = modelSettings.CampaignAdmission, BatchL2 = global.L2, Threads = threads, Batch = batch };
        var showProgress = !json && !Console.IsErrorRedirected;
        EvalResult result;
        try
        {
            result = OfflineEvaluator.Run(data, format, settings, showProgress ? n => stderr.Write("\r" + n.ToString("N0", CultureInfo.InvariantCulture) + " rows") : null);
        }
        catch (MalformedLineException e)
        {
            stderr.WriteLine("adctr-sim: " + data + ": line " + e.LineNumber + ": " + Program.OneLine(e.Reason));
            return 1;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or InvalidDataException)
        {
            stderr.WriteLine("adctr-sim: cannot read '" + data + "': " + Program.OneLine(e.Message));
            return Program.UsageError;
        }
        catch (InvalidOperationException e) when (model != EvalModel.Online)
        {
            // ML.NET refuses a training set it cannot learn from (e.g. one class only).
            stderr.WriteLine("adctr-sim: cannot train on '" + data + "': " + Program.OneLine(e.Message));
            return 1;
        }

        if (showProgress)
        {
            stderr.Write('\r');
        }

        if (json)
        {
            stdout.WriteLine(ToJson(result));
        }
        else
        {
            WriteTable(result, model, stdout);
        }

        return 0;
    }

    public static string ToJson(EvalResult r)
    {
        using var buffer = new MemoryStream();
        using (var w = new Utf8JsonWriter(buffer))
        {
            w.WriteStartObject();
            w.WriteNumber("examples", r.Examples);
            w.WriteNumber("seconds", Math.Round(r.Seconds, 3));
            w.WriteNumber("examplesPerSecond", Math.Round(r.Examples / Math.Max(r.Seconds, 1e-9)));
            if (r.Progressive is { } p)
            {
                w.WriteStartObject("progressive");
                WriteMetrics(w, p);
                w.WriteEndObject();
            }
            else
            {
                w.WriteNull("progressive");
            }

            w.WriteStartObject("holdout");
            w.WriteNumber("examples", r.HoldoutExamples);
            WriteMetrics(w, r.Holdout);
            w.WriteEndObject();
            w.WriteNumber("malformedLines", r.MalformedLines);
            w.WriteEndObject();
        }

        return Encoding.UTF8.GetString(buffer.ToArray());
    }

    private static void WriteMetrics(Utf8JsonWriter w, BinaryMetrics m)
    {
        Number(w, "logLoss", m.LogLoss);
        Number(w, "normalizedEntropy", m.NormalizedEntropy);
        Number(w, "auc", m.Auc);
        Number(w, "calibrationRatio", m.CalibrationRatio);
    }

    private static void Number(Utf8JsonWriter w, string name, double value)
    {
        if (double.IsFinite(value))
        {
            w.WriteNumber(name, Math.Round(value, 6));
        }
        else
        {
            w.WriteNull(name);
        }
    }

    private static void WriteTable(EvalResult r, EvalModel model, TextWriter o)
    {
        var inv = CultureInfo.InvariantCulture;
        o.WriteLine(string.Create(inv, $"model {model.ToString().ToLowerInvariant()}: {r.Examples:N0} examples in {r.Seconds:F2} s ({r.Examples / Math.Max(r.Seconds, 1e-9):N0}/s), {r.MalformedLines:N0} malformed lines"));
        o.WriteLine(string.Create(inv, $"{"set",-12} {"examples",12} {"log loss",10} {"NE",8} {"AUC",8} {"calib.",8}"));
        if (r.Progressive is { } p)
        {
            Row(o, "progressive", p.Examples, p);
        }

        Row(o, "holdout", r.HoldoutExamples, r.Holdout);
        foreach (var m in r.FirstMalformed)
        {
            o.WriteLine("  " + m);
        }
    }

    private static void Row(TextWriter o, string name, long n, BinaryMetrics m) =>
        o.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{name,-12} {n,12:N0} {m.LogLoss,10:F5} {m.NormalizedEntropy,8:F4} {m.Auc,8:F4} {m.CalibrationRatio,8:F4}"));
}
