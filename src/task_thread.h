// The thread a group runs its collectives on: tasks run one after the other
// in the order they were submitted (c10d needs the same order on every rank),
// never on the caller's thread unless the caller is this thread.
#pragma once

#include <functional>
#include <memory>
#include <thread>

namespace pairloss {

class TaskThread {
 public:
  TaskThread();
  // Stops after the tasks already submitted: joins the thread, or, called
  // from one of its tasks, lets it end on its own after that task.
  ~TaskThread();
  TaskThread(const TaskThread&) = delete;
  TaskThread& operator=(const TaskThread&) = delete;

  // Queues `task` after every task submitted before it. The task must not
  // throw (it reports through its own channel). Throws GroupError once the
  // thread is stopping.
  void submit(std::function<void()> task);
  // Runs `task` as submit does and waits for it; its exception is rethrown
  // here. Called on this thread, it runs `task` inline.
  void run(const std::function<void()>& task);
  // True on this thread.
  bool on_thread() const;
  // Takes no more tasks; the thread ends once the queue is drained.
  void stop();
  // stop(), then waits for the thread to end (a no-op on the thread itself).
  void join();

 private:
  struct Queue;
  static void loop(std::shared_ptr<Queue> queue);
  // Shared with the thread, which may outlive this object by the end of the
  // task it is running.
  std::shared_ptr<Queue> queue_;
  std::thread thread_;
  std::thread::id id_;
};

}  // namespace pairloss
