Console.Error.WriteLine("adctr-sim: not written yet");
return 2;
