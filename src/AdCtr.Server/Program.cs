var app = WebApplication.CreateSlimBuilder(args).Build();
app.MapGet("/health/live", () => "ok");
app.Run();
