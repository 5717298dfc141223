using System.CommandLine;
using System.Diagnostics;
using AdCtr.Simulator.World;

namespace AdCtr.Simulator.Commands;

/// <summary>
/// <c>adctr-sim generate --scenario NAME --events N --out FILE [--format ndjson|criteo] [--seed S]</c>: writes a
/// labeled log of a scenario's world, with the true click probability (ndjson only) so any tool can be evaluated
/// against the truth.
/// </summary>
public static class GenerateCommand
{
    public static Command Create()
    {
        var scenario = new Option<string>("--scenario")
        {
            Description = "Scenario name (config/scenarios/NAME.json) or path to a scenario JSON file",
            Required = true,
        };
        var events = new Option<long>("--events")
        {
            Description = "Number of examples (lines) to write",
            Required = true,
        };
        events.Validators.Add(result =>
        {
            // Non-numbers are reported by the parser itself; only check numbers here.
            if (result.Tokens.Count > 0 && long.TryParse(result.Tokens[^1].Value, out var n) && n <= 0)
            {
                result.AddError("--events must be a positive number");
            }
        });
        var output = new Option<string>("--out")
        {
            Description = "Output file ('.gz' suffix = gzip; '-' = standard output)",
            Required = true,
        };
        var format = new Option<string>("--format")
        {
            Description = "ndjson (one example object per line, with trueCtr) or criteo (Criteo challenge TSV, no trueCtr)",
            DefaultValueFactory = _ => "ndjson",
        };
        format.AcceptOnlyFromAmong("ndjson", "criteo");
        var seed = new Option<ulong>("--seed")
        {
            Description = "Seed of the world and of every random draw; the same seed gives byte-identical output",
            DefaultValueFactory = _ => 1UL,
        };

        var command = new Command("generate", "Write a labeled example log of a simulated scenario")
        {
            scenario, events, output, format, seed,
        };
        command.SetAction(parseResult => Execute(
            parseResult.GetRequiredValue(scenario),
            parseResult.GetValue(events),
            parseResult.GetRequiredValue(output),
            parseResult.GetValue(format) == "criteo" ? ExampleFormat.Criteo : ExampleFormat.Ndjson,
            parseResult.GetValue(seed),
            parseResult.InvocationConfiguration.Output,
            parseResult.InvocationConfiguration.Error));
        return command;
    }

    /// <summary>Runs the command; returns the exit code.</summary>
    public static int Execute(string scenarioName, long events, string outPath, ExampleFormat format, ulong seed, TextWriter stdout, TextWriter stderr)
    {
        ArgumentNullException.ThrowIfNull(stdout);
        ArgumentNullException.ThrowIfNull(stderr);
        ScenarioDefinition scenario;
        try
        {
            scenario = ScenarioCatalog.Load(scenarioName);
        }
        catch (ScenarioException ex)
        {
            stderr.WriteLine("adctr-sim: " + Program.OneLine(ex.Message));
            return Program.UsageError;
        }

        var world = AdWorld.Create(scenario, seed);
        var stopwatch = Stopwatch.StartNew();
        long written = 0, clicks = 0;
        double weighted = 0, weightedClicks = 0, sumTrue = 0;
        try
        {
            using var writer = ExampleWriter.Open(outPath, format);
            foreach (var example in world.Examples())
            {
                writer.Write(example);
                written++;
                clicks += example.Label;
                weighted += example.Weight;
                weightedClicks += example.Label * example.Weight;
                sumTrue += example.TrueCtr * example.Weight;
                if (written == events)
                {
                    break;
                }
            }
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            stderr.WriteLine("adctr-sim: cannot write '" + outPath + "': " + Program.OneLine(ex.Message));
            return 1;
        }

        stopwatch.Stop();
        var report = outPath == "-" ? stderr : stdout;
        if (written < events)
        {
            stderr.WriteLine(string.Create(System.Globalization.CultureInfo.InvariantCulture,
                $"adctr-sim: scenario '{scenario.Name}' reached its end ({world.End:O}) after {written} examples; raise durationDays or arrivals.requestsPerHour for more"));
        }

        var seconds = Math.Max(stopwatch.Elapsed.TotalSeconds, 1e-9);
        report.WriteLine(string.Create(System.Globalization.CultureInfo.InvariantCulture,
            $"generate: scenario={scenario.Name} seed={seed} format={format.ToString().ToLowerInvariant()} examples={written} clicks={clicks} weightedCtr={(weighted > 0 ? weightedClicks / weighted : 0):G4} meanTrueCtr={(weighted > 0 ? sumTrue / weighted : 0):G4} out={outPath} seconds={seconds:F2} examplesPerSecond={written / seconds:F0}"));
        return 0;
    }
}
