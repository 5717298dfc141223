using System.CommandLine;
using System.Globalization;
using System.Text;
using System.Text.Json;
using AdCtr.Learning.Features;
using AdCtr.Learning.Ftrl;
using AdCtr.Learning.Readers;
using AdCtr.Simulator.Evaluation;

namespace AdCtr.Simulator.Commands;

/// <summary>
/// <c>adctr-sim tune --data FILE --format criteo|avazu|ndjson|csv [--spec FILE] [--bits N] [--budget N] [--seed N]
/// [--threads N] [--out FILE] [--config FILE] [--set KEY=VALUE]...</c>: successive halving over the FTRL alpha, L1
/// and L2 of the global and campaign parts (<see cref="Tuner"/>), scored by progressive log loss on the file; prints
/// the trials and the best settings as an <c>AdCtr:Model</c> configuration snippet (also written to <c>--out</c>).
/// </summary>
public static class TuneCommand
{
    public static Command Create()
    {
        var data = new Option<string>("--data") { Description = "Log file ('.gz' = gzip); rows in time order", Required = true };
        var format = new Option<string>("--format") { Description = "criteo, avazu, ndjson or csv (csv needs --spec with \"label\")", Required = true };
        format.AcceptOnlyFromAmong("criteo", "avazu", "ndjson", "csv");
        var spec = new Option<string?>("--spec") { Description = "Feature spec JSON (default config/features.FORMAT.json)" };
        var bits = new Option<int?>("--bits") { Description = "Hash bits, 18..28 (default: the configuration's, else the spec's)" };
        var budget = new Option<int>("--budget") { Description = "Configurations in the first rung, the configuration's own included (each rung keeps the best third on three times the rows)", DefaultValueFactory = _ => 27 };
        budget.Validators.Add(r =>
        {
            if (r.Tokens.Count > 0 && int.TryParse(r.Tokens[^1].Value, NumberStyles.Integer, CultureInfo.InvariantCulture, out var b) && b is < 1 or > 10_000)
            {
                r.AddError("--budget must be in 1..10000");
            }
        });
        var seed = new Option<ulong>("--seed") { Description = "Seed of the sampled configurations", DefaultValueFactory = _ => 1UL };
        var threads = new Option<int>("--threads") { Description = "Trials run side by side", DefaultValueFactory = _ => 2 };
        threads.Validators.Add(r =>
        {
            if (r.Tokens.Count > 0 && int.TryParse(r.Tokens[^1].Value, NumberStyles.Integer, CultureInfo.InvariantCulture, out var t) && t is < 1 or > 64)
            {
                r.AddError("--threads must be in 1..64");
            }
        });
        var output = new Option<string?>("--out") { Description = "Also write the best settings' configuration snippet to this file" };
        var strict = new Option<bool>("--strict") { Description = "A malformed line is an error (exit 1) instead of being counted and skipped" };
        var config = ModelConfig.ConfigOption();
        var set = ModelConfig.SetOption();

        var command = new Command("tune", "Search FTRL alpha, L1 and L2 of the global and campaign parts by successive halving on a log")
        {
            data, format, spec, bits, budget, seed, threads, output, strict, config, set,
        };
        command.SetAction(r =>
        {
            var stderr = r.InvocationConfiguration.Error;
            var path = r.GetRequiredValue(data);
            SpecResolver.TryParseFormat(r.GetRequiredValue(format), out var logFormat);
            TuneSettings settings;
            try
            {
                var model = ModelConfig.Load(r.GetValue(config), r.GetValue(set));
                settings = new TuneSettings
                {
                    Spec = SpecResolver.Resolve(r.GetValue(spec), logFormat, r.GetValue(bits) ?? model.Bits),
                    Baseline = model,
                    Budget = r.GetValue(budget),
                    Seed = r.GetValue(seed),
                    Threads = r.GetValue(threads),
                    Strict = r.GetValue(strict),
                };
            }
            catch (Exception e) when (e is FeatureSpecException or ArgumentException)
            {
                stderr.WriteLine("adctr-sim: " + Program.OneLine(e.Message));
                return Program.UsageError;
            }

            if (!File.Exists(path))
            {
                stderr.WriteLine("adctr-sim: cannot read '" + path + "': no such file");
                return Program.UsageError;
            }

            return Execute(path, logFormat, settings, r.GetValue(output), r.InvocationConfiguration.Output, stderr, showProgress: !Console.IsErrorRedirected);
        });
        return command;
    }

    public static int Execute(string path, LogFormat format, TuneSettings settings, string? output, TextWriter stdout, TextWriter stderr, bool showProgress)
    {
        TuneResult result;
        try
        {
            result = Tuner.Run(path, format, settings, showProgress ? (done, total) => ProgressBar(stderr, done, total) : null);
        }
        catch (MalformedLineException e)
        {
            stderr.WriteLine("adctr-sim: " + path + ": line " + e.LineNumber + ": " + Program.OneLine(e.Reason));
            return 1;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or InvalidDataException)
        {
            stderr.WriteLine("adctr-sim: cannot tune on '" + path + "': " + Program.OneLine(e.Message));
            return 1;
        }

        if (showProgress)
        {
            stderr.WriteLine();
        }

        WriteTable(result, settings, stdout);
        var snippet = Snippet(result.Best);
        stdout.WriteLine();
        stdout.WriteLine(snippet);
        if (output is not null)
        {
            try
            {
                File.WriteAllText(output, snippet + Environment.NewLine);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                stderr.WriteLine("adctr-sim: cannot write '" + output + "': " + Program.OneLine(e.Message));
                return 1;
            }
        }

        return 0;
    }

    private static void ProgressBar(TextWriter stderr, int done, int total)
    {
        const int Width = 30;
        var filled = total == 0 ? Width : done * Width / total;
        stderr.Write("\r[" + new string('#', filled) + new string('.', Width - filled) + "] " + done.ToString(CultureInfo.InvariantCulture) + "/" + total.ToString(CultureInfo.InvariantCulture) + " trials");
    }

    private static void WriteTable(TuneResult result, TuneSettings settings, TextWriter o)
    {
        var inv = CultureInfo.InvariantCulture;
        o.WriteLine(string.Create(inv, $"Successive halving: {settings.Budget} configurations (trial 0 = the configuration's), seed {settings.Seed}, {result.Rows:N0} rows, {result.MalformedLines:N0} malformed lines skipped; score = progressive log loss on the rung's first rows."));
        o.WriteLine();
        o.WriteLine("| rung | rows | trial | global alpha | global L1 | global L2 | campaign alpha | campaign L1 | campaign L2 | log loss |");
        o.WriteLine("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
        foreach (var t in result.Trials)
        {
            o.WriteLine(string.Create(inv, $"| {t.Rung} | {t.Rows:N0} | {t.Id} | {t.Global.Alpha:G4} | {t.Global.L1:G4} | {t.Global.L2:G4} | {t.Campaign.Alpha:G4} | {t.Campaign.L1:G4} | {t.Campaign.L2:G4} | {t.LogLoss:F6} |"));
        }

        o.WriteLine();
        o.WriteLine(string.Create(inv, $"Best: trial {result.Best.Id}, progressive log loss {result.Best.LogLoss:F6} on all {result.Rows:N0} rows."));
    }

    /// <summary>The best settings as a configuration snippet (<c>AdCtr:Model</c>), readable by the server and by <c>eval --config</c>.</summary>
    public static string Snippet(TuneTrial best)
    {
        using var buffer = new MemoryStream();
        using (var w = new Utf8JsonWriter(buffer, new JsonWriterOptions { Indented = true }))
        {
            w.WriteStartObject();
            w.WriteStartObject("AdCtr");
            w.WriteStartObject("Model");
            Part(w, "Global", best.Global);
            Part(w, "Campaign", best.Campaign);
            w.WriteEndObject();
            w.WriteEndObject();
            w.WriteEndObject();
        }

        return Encoding.UTF8.GetString(buffer.ToArray());
    }

    private static void Part(Utf8JsonWriter w, string name, FtrlParameters p)
    {
        w.WriteStartObject(name);
        w.WriteNumber("Alpha", p.Alpha);
        w.WriteNumber("Beta", p.Beta);
        w.WriteNumber("L1", p.L1);
        w.WriteNumber("L2", p.L2);
        w.WriteEndObject();
    }
}
