using AdCtr.LoadTests.Cli;

return await LoadCli.Build(Console.Out, Console.Error).Parse(args).InvokeAsync().ConfigureAwait(false);
