using System.CommandLine;
using AdCtr.Simulator.Commands;

namespace AdCtr.Simulator;

/// <summary>
/// <c>adctr-sim</c>: the synthetic ad world and the experiments around it. Each subcommand lives in
/// <c>Commands/XxxCommand.cs</c> with a <c>static Command Create()</c> and is registered below with one line.
/// Bad arguments give a one-line error on stderr and exit code 2.
/// </summary>
public static class Program
{
    /// <summary>Exit code for bad arguments, unknown scenarios and invalid scenario files.</summary>
    public const int UsageError = 2;

    public static int Main(string[] args) => Run(args, Console.Out, Console.Error);

    /// <summary>The root command with every subcommand registered.</summary>
    public static RootCommand CreateRootCommand()
    {
        var root = new RootCommand("adctr-sim: a synthetic ad world with known click probabilities, and experiments on it");
        root.Subcommands.Add(GenerateCommand.Create());
        root.Subcommands.Add(EvalCommand.Create());
        root.Subcommands.Add(CompareCommand.Create());
        root.Subcommands.Add(DriveCommand.Create());
        root.Subcommands.Add(TuneCommand.Create());
        return root;
    }

    /// <summary>Parses and runs <paramref name="args"/> with the given output writers (tests run the CLI in-process).</summary>
    public static int Run(string[] args, TextWriter output, TextWriter error)
    {
        ArgumentNullException.ThrowIfNull(error);
        var parseResult = CreateRootCommand().Parse(args);
        if (parseResult.Errors.Count > 0)
        {
            error.WriteLine("adctr-sim: " + OneLine(parseResult.Errors[0].Message) + " (see --help)");
            return UsageError;
        }

        return parseResult.Invoke(new InvocationConfiguration { Output = output, Error = error });
    }

    internal static string OneLine(string message) =>
        message.Replace("\r", " ", StringComparison.Ordinal).Replace("\n", " ", StringComparison.Ordinal);
}
