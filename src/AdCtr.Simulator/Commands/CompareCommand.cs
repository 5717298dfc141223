using System.CommandLine;
using System.Globalization;
using AdCtr.Learning.Features;
using AdCtr.Learning.Readers;
using AdCtr.Simulator.Compare;
using AdCtr.Simulator.Evaluation;
using AdCtr.Simulator.World;

namespace AdCtr.Simulator.Commands;

/// <summary>
/// <c>adctr-sim compare --scenario NAME | --data FILE --format F [--strategies LIST] [--window-hours W]
/// [--eval-window H] [--report DIR] ...</c>: batch retraining against online learning on one stream, in process.
/// </summary>
public static class CompareCommand
{
    /// <summary>Every option of the command, so that the action reads them in one place.</summary>
    private sealed record Options(
        Option<string?> Scenario,
        Option<string?> Data,
        Option<string?> Format,
        Option<string> Strategies,
        Option<double> WindowHours,
        Option<double> EvalWindow,
        Option<double> TableWindow,
        Option<double> RowsPerHour,
        Option<long?> Events,
        Option<ulong> Seed,
        Option<double?> DurationDays,
        Option<string?> Report,
        Option<string?> Spec,
        Option<int?> Bits,
        Option<double?> Alpha,
        Option<double?> L1,
        Option<double?> L2,
        Option<double> BatchL2,
        Option<int> BatchIterations,
        Option<int> Threads,
        Option<bool> Strict,
        Option<string?> Config,
        Option<string[]> Set);

    public static Command Create()
    {
        var o = new Options(
            new Option<string?>("--scenario") { Description = "Simulated scenario (name or JSON path), generated in process with the true CTR" },
            new Option<string?>("--data") { Description = "Log file instead of a scenario ('.gz' = gzip); rows in time order" },
            new Option<string?>("--format") { Description = "Format of --data: criteo, avazu, ndjson or csv (csv needs --spec with \"label\")" },
            new Option<string>("--strategies") { Description = "Comma-separated: online, batch:T (= batch:T:lr), batch:T:ffm, batch:T+online, trees:T+online, frozen (T in hours)", DefaultValueFactory = _ => StrategySpec.DefaultList },
            new Option<double>("--window-hours") { Description = "W: batch training window in hours; the first W hours are the unscored warm-up", DefaultValueFactory = _ => 24 },
            new Option<double>("--eval-window") { Description = "Hours per scoring window of windows.csv and the NE chart", DefaultValueFactory = _ => 1 },
            new Option<double>("--table-window") { Description = "Hours per row of the Markdown report's table", DefaultValueFactory = _ => 24 },
            new Option<double>("--rows-per-hour") { Description = "Clock of logs without timestamps (Criteo): row index / this = hours", DefaultValueFactory = _ => 100_000 },
            new Option<long?>("--events") { Description = "Examples to use (scenario default 1,000,000; log default all)" },
            new Option<ulong>("--seed") { Description = "Seed of the simulated world", DefaultValueFactory = _ => 1UL },
            new Option<double?>("--duration-days") { Description = "Override the scenario's length in days (for long runs)" },
            new Option<string?>("--report") { Description = "Directory for report.md, CSVs and SVG charts (created)" },
            new Option<string?>("--spec") { Description = "Feature spec JSON (default config/features.sim.json, or features.FORMAT.json for logs)" },
            new Option<int?>("--bits") { Description = "Hash bits, 18..28 (default: the spec's)" },
            new Option<double?>("--alpha") { Description = "FTRL alpha of the global part (online model and batch+online correction; default: the configuration's)" },
            new Option<double?>("--l1") { Description = "FTRL L1 of the global part (default: the configuration's)" },
            new Option<double?>("--l2") { Description = "FTRL L2 of the global part (default: the configuration's)" },
            new Option<double>("--batch-l2") { Description = "L2 of the batch logistic regression (on the summed loss)", DefaultValueFactory = _ => 50.0 },
            new Option<int>("--batch-iterations") { Description = "Maximum L-BFGS iterations per training", DefaultValueFactory = _ => 100 },
            new Option<int>("--threads") { Description = "Threads running the strategies side by side", DefaultValueFactory = _ => 2 },
            new Option<bool>("--strict") { Description = "A malformed line of --data is an error (exit 1) instead of being counted and skipped" },
            ModelConfig.ConfigOption(),
            ModelConfig.SetOption());
        o.Format.AcceptOnlyFromAmong("criteo", "avazu", "ndjson", "csv");

        var command = new Command("compare", "Replay one stream through online, periodic batch, batch+online and frozen models and report per time window")
        {
            o.Scenario, o.Data, o.Format, o.Strategies, o.WindowHours, o.EvalWindow, o.TableWindow, o.RowsPerHour, o.Events, o.Seed,
            o.DurationDays, o.Report, o.Spec, o.Bits, o.Alpha, o.L1, o.L2, o.BatchL2, o.BatchIterations, o.Threads, o.Strict,
            o.Config, o.Set,
        };
        command.SetAction(r => Execute(r, o));
        return command;
    }

    private static int Execute(ParseResult r, Options o)
    {
        var stdout = r.InvocationConfiguration.Output;
        var stderr = r.InvocationConfiguration.Error;
        int Usage(string message)
        {
            stderr.WriteLine("adctr-sim: " + Program.OneLine(message));
            return Program.UsageError;
        }

        var scenarioName = r.GetValue(o.Scenario);
        var data = r.GetValue(o.Data);
        var formatName = r.GetValue(o.Format);
        if ((scenarioName is null) == (data is null))
        {
            return Usage("give either --scenario or --data (with --format)");
        }

        if (data is not null && formatName is null)
        {
            return Usage("--data needs --format criteo|avazu|ndjson|csv");
        }

        if (!StrategySpec.TryParseList(r.GetValue(o.Strategies)!, out var strategies, out var error))
        {
            return Usage(error);
        }

        var events = r.GetValue(o.Events);
        if (events is <= 0)
        {
            return Usage("--events must be a positive number");
        }

        var format = LogFormat.AdCtrJson;
        if (formatName is not null)
        {
            SpecResolver.TryParseFormat(formatName, out format);
        }

        CompareSettings settings;
        try
        {
            var model = ModelConfig.Load(r.GetValue(o.Config), r.GetValue(o.Set)).WithGlobal(r.GetValue(o.Alpha), r.GetValue(o.L1), r.GetValue(o.L2));
            var spec = SpecResolver.Resolve(r.GetValue(o.Spec), data is null ? LogFormat.AdCtrJson : format, r.GetValue(o.Bits) ?? model.Bits);
            settings = new CompareSettings
            {
                Spec = spec,
                Strategies = strategies,
                TrainWindowHours = r.GetValue(o.WindowHours),
                EvalWindowHours = r.GetValue(o.EvalWindow),
                TableWindowHours = r.GetValue(o.TableWindow),
                RowsPerHour = r.GetValue(o.RowsPerHour),
                Global = model.Global,
                Campaign = model.Campaign,
                CampaignAdmission = model.CampaignAdmission,
                BatchL2 = r.GetValue(o.BatchL2),
                BatchMaxIterations = r.GetValue(o.BatchIterations),
                Threads = r.GetValue(o.Threads),
            };
            settings.Validate();
        }
        catch (Exception e) when (e is FeatureSpecException or ArgumentException)
        {
            return Usage(e is ArgumentOutOfRangeException a && a.ParamName?.StartsWith("--", StringComparison.Ordinal) == true
                ? a.ParamName + " must be a positive number" : e.Message);
        }

        ICompareSource source;
        if (scenarioName is not null)
        {
            ScenarioDefinition scenario;
            try
            {
                scenario = ScenarioCatalog.Load(scenarioName);
                if (r.GetValue(o.DurationDays) is { } days)
                {
                    scenario.DurationDays = days;
                    scenario.Validate();
                }
            }
            catch (ScenarioException e)
            {
                return Usage(e.Message);
            }

            source = new ScenarioSource(AdWorld.Create(scenario, r.GetValue(o.Seed)), settings.Spec, events ?? 1_000_000);
        }
        else
        {
            if (data != ExampleReaders.StandardInput && !File.Exists(data))
            {
                return Usage("cannot read '" + data + "': no such file");
            }

            try
            {
                source = new LogSource(data!, format, settings.Spec, settings.RowsPerHour, events ?? long.MaxValue, r.GetValue(o.Strict));
            }
            catch (Exception e) when (e is IOException or InvalidDataException or UnauthorizedAccessException)
            {
                return Usage("cannot read '" + data + "': " + e.Message);
            }
        }

        CompareResult result;
        var showProgress = !Console.IsErrorRedirected && ReferenceEquals(stderr, Console.Error);
        using (source)
        {
            try
            {
                result = CompareRunner.Run(source, settings, showProgress ? n => stderr.Write("\r" + n.ToString("N0", CultureInfo.InvariantCulture) + " examples") : null);
            }
            catch (MalformedLineException e)
            {
                stderr.WriteLine("adctr-sim: " + data + ": line " + e.LineNumber + ": " + Program.OneLine(e.Reason));
                return 1;
            }
            catch (Exception e) when (e is IOException or InvalidDataException)
            {
                stderr.WriteLine("adctr-sim: cannot read '" + data + "': " + Program.OneLine(e.Message));
                return 1;
            }

            if (source is LogSource log && log.Statistics.MalformedLines > 0)
            {
                stderr.WriteLine(string.Create(CultureInfo.InvariantCulture, $"adctr-sim: {log.Statistics.MalformedLines:N0} malformed lines skipped"));
                foreach (var m in log.Statistics.FirstMalformed)
                {
                    stderr.WriteLine("  " + m);
                }
            }
        }

        if (showProgress)
        {
            stderr.Write('\r');
        }

        if (scenarioName is not null && events is { } wanted && result.Examples < wanted)
        {
            stderr.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"adctr-sim: the scenario ended after {result.Examples} examples; raise --duration-days for more"));
        }

        stdout.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"compare: {result.Source}: {result.Examples:N0} examples ({result.ScoredExamples:N0} scored) over {result.StreamHours:F1} h in {result.Seconds:F1} s ({result.Examples / Math.Max(result.Seconds, 1e-9):N0}/s)"));
        stdout.Write(CompareReport.TotalsTable(result));
        var reportDir = r.GetValue(o.Report);
        if (reportDir is not null)
        {
            try
            {
                CompareReport.Write(result, reportDir, "adctr-sim " + string.Join(' ', r.Tokens.Select(t => t.Value)));
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                stderr.WriteLine("adctr-sim: cannot write the report to '" + reportDir + "': " + Program.OneLine(e.Message));
                return 1;
            }

            stdout.WriteLine("report: " + Path.Combine(reportDir, CompareReport.MarkdownFile));
        }

        return 0;
    }
}
