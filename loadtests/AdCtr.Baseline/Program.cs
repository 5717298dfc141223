using AdCtr.Baseline;

var app = BaselineApp.Build(args);
app.Lifetime.ApplicationStarted.Register(() => Console.WriteLine("adctr-baseline listening on " + string.Join(", ", BaselineApp.BoundAddresses(app))));
app.Run();
