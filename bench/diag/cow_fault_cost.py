"""The cost of one copy-on-write fault here: a fork child writes one byte in each of 400 pages
its parent wrote (first write: a fault each), then again (no fault). Prints µs per page, median
of 20 children: `python3 bench/diag/cow_fault_cost.py`."""
import os, time, mmap
perf=time.perf_counter
K=400
buf = bytearray(4096*K)
for i in range(0, len(buf), 4096): buf[i]=1
res=[]
for _ in range(20):
    r,w=os.pipe()
    pid=os.fork()
    if pid==0:
        t=perf()
        for i in range(0, len(buf), 4096): buf[i]=2
        t2=perf()
        for i in range(0, len(buf), 4096): buf[i]=3
        t3=perf()
        os.write(w, repr(((t2-t)*1e6/K, (t3-t2)*1e6/K)).encode()); os._exit(0)
    os.close(w); res.append(eval(os.read(r,100))); os.close(r); os.waitpid(pid,0)
res.sort(); print('us per COW fault (first touch), per rewrite:', res[len(res)//2])
