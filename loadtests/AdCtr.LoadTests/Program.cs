Console.Error.WriteLine("adctr-load: not written yet");
return 2;
